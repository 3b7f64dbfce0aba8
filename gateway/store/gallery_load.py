"""Loading the gallery: decrypted templates of people valid at a given time, for one model only.

Templates made by another model, of another dimension, or whose ciphertext fails authentication
are never decrypted into the gallery: they are counted and reported so the operator can re-enrol.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.gallery.matrix import Gallery
from gateway.store.crypto import Sealed, TemplateCipher, template_aad
from gateway.store.errors import TemplateIntegrityError
from gateway.store.people import valid_at_clause
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.schema_people import Person


@dataclass(frozen=True)
class GalleryRow:
    person_id: int
    model_id: str
    vector: npt.NDArray[np.float32]


@dataclass
class GalleryLoad:
    """Rows to search, and what was refused: other model (count per model id), bad rows."""

    rows: list[GalleryRow] = field(default_factory=list)
    refused_by_model: Counter[str] = field(default_factory=Counter)
    wrong_dimension: int = 0
    unreadable_template_ids: list[int] = field(default_factory=list)

    @property
    def refused_other_model(self) -> int:
        return sum(self.refused_by_model.values())


def load_gallery_rows(
    session: Session, cipher: TemplateCipher, model_id: str, dimension: int, at: datetime
) -> GalleryLoad:
    """(person_id, model_id, vector) for every template of a person valid at `at`."""
    result = GalleryLoad()
    templates = session.scalars(
        select(FaceTemplate)
        .join(Person, Person.id == FaceTemplate.person_id)
        .where(valid_at_clause(at))
        .order_by(FaceTemplate.person_id, FaceTemplate.id)
    )
    for template in templates:
        if template.model_id != model_id:
            result.refused_by_model[template.model_id] += 1
            continue
        if template.dimension != dimension:
            result.wrong_dimension += 1
            continue
        aad = template_aad("face", str(template.person_id), template.model_id, dimension)
        sealed = Sealed(template.key_id, template.nonce, template.ciphertext)
        try:
            vector = cipher.open(sealed, aad, dimension)
        except TemplateIntegrityError:
            result.unreadable_template_ids.append(template.id)
            continue
        result.rows.append(GalleryRow(template.person_id, template.model_id, vector))
    return result


def fill_gallery(gallery: Gallery, load: GalleryLoad) -> int:
    """Add the loaded rows to a Gallery (identity = str(person_id)); returns how many. A row the
    gallery refuses (e.g. an all-zero vector) is logged and counted in `gallery.refused`."""
    return sum(
        gallery.add_or_refuse(str(row.person_id), row.vector, row.model_id) for row in load.rows
    )
