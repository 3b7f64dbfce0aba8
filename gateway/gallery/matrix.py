"""A gallery: every template of every identity as rows of one float32 matrix, tagged by model id.

Search is one matrix-vector product: the best template gives the top-1 identity, and the margin is
its score minus the best score of any *other* identity, so several templates per person never
count as competition against themselves. Templates made by another model, of another dimension,
non-finite or all zero are refused: `add` raises, `add_or_refuse` (loading stored templates, where
one bad row must not stop the door) logs the refusal, counts it in `refused` and goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LOG = logging.getLogger(__name__)


class TemplateModelMismatch(ValueError):
    """A template was made by another model than the gallery's; comparing them is meaningless."""


@dataclass(frozen=True)
class Match:
    """Best identity for a probe, its cosine score, and the margin to the best other identity."""

    identity: str
    score: float
    margin: float
    second_identity: str | None
    competitors: int = 0  # other identities the probe was compared with (margin's strength)


class Gallery:
    """Templates of one model, several per identity; add/remove rebuild the search matrix lazily."""

    def __init__(self, model_id: str, dimension: int) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self._rows: list[npt.NDArray[np.float32]] = []
        self._labels: list[str] = []
        self._matrix = np.zeros((0, dimension), np.float32)
        self._label_codes = np.zeros(0, np.int64)
        self._identities: list[str] = []
        self._dirty = False
        self.refused: Counter[str] = Counter()  # reason -> templates refused by add_or_refuse

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def identities(self) -> set[str]:
        return set(self._labels)

    def add(self, identity: str, template: npt.ArrayLike, model_id: str) -> None:
        """Add one L2-normalised template; refuse one made by another model or of a bad shape."""
        if model_id != self.model_id:
            raise TemplateModelMismatch(
                f"template for {identity!r} was made by model {model_id!r}, this gallery runs "
                f"{self.model_id!r}: re-enrol the person with the running model"
            )
        vector = np.asarray(template, np.float32).reshape(-1)
        if vector.shape[0] != self.dimension or not np.isfinite(vector).all():
            raise ValueError(
                f"template for {identity!r} has shape {vector.shape} or non-finite "
                f"values; expected {self.dimension} finite floats"
            )
        norm = float(np.linalg.norm(vector))
        if norm < 1e-6:
            raise ValueError(f"template for {identity!r} is all zeros")
        self._rows.append(vector / norm)
        self._labels.append(identity)
        self._dirty = True

    def add_or_refuse(self, identity: str, template: npt.ArrayLike, model_id: str) -> bool:
        """`add`, except that a bad template is logged, counted in `refused` and skipped."""
        try:
            self.add(identity, template, model_id)
        except TemplateModelMismatch as error:
            reason = "other_model"
            LOG.error("gallery refused a template: %s", error)
        except ValueError as error:
            reason = "invalid"
            LOG.error("gallery refused a template: %s", error)
        else:
            return True
        self.refused[reason] += 1
        return False

    def add_many(self, items: Iterable[tuple[str, npt.ArrayLike]], model_id: str) -> None:
        for identity, template in items:
            self.add(identity, template, model_id)

    def remove(self, identity: str) -> int:
        """Drop every template of `identity`; returns how many were removed."""
        keep = [i for i, label in enumerate(self._labels) if label != identity]
        removed = len(self._labels) - len(keep)
        self._rows = [self._rows[i] for i in keep]
        self._labels = [self._labels[i] for i in keep]
        self._dirty = True
        return removed

    def _rebuild(self) -> None:
        self._identities = sorted(set(self._labels))
        code_of = {label: code for code, label in enumerate(self._identities)}
        self._label_codes = np.asarray([code_of[label] for label in self._labels], np.int64)
        self._matrix = (
            np.stack(self._rows) if self._rows else np.zeros((0, self.dimension), np.float32)
        )
        self._dirty = False

    def search(self, probe: npt.ArrayLike) -> Match | None:
        """Top-1 identity for one probe vector (None for an empty gallery)."""
        if self._dirty:
            self._rebuild()
        if not self._labels:
            return None
        vector = np.asarray(probe, np.float32).reshape(-1)
        if vector.shape[0] != self.dimension or not np.isfinite(vector).all():
            raise ValueError("probe has the wrong dimension or non-finite values")
        scores = self._matrix @ vector
        best = int(np.argmax(scores))
        best_code = self._label_codes[best]
        others = np.where(self._label_codes != best_code, scores, -np.inf)
        second = int(np.argmax(others))
        has_other = bool(np.isfinite(others[second]))
        second_score = float(others[second]) if has_other else -1.0
        return Match(
            identity=self._identities[best_code],
            score=float(scores[best]),
            margin=float(scores[best]) - second_score,
            second_identity=self._identities[self._label_codes[second]] if has_other else None,
            competitors=len(self._identities) - 1,
        )
