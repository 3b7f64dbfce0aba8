"""Key rotation: re-encrypt every face and watch-list template from the old key to the new one.

Runs inside the caller's transaction, so a failure leaves every row under the old key. Rows whose
key id is neither key's are counted, not touched. The visitor-code HMAC secret and pseudonyms are
derived from the master key too: after rotation, live visitor codes no longer match and must be
reissued (the report counts them); pseudonyms already written stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.crypto import Sealed, TemplateCipher, template_aad
from gateway.store.schema_credentials import FaceTemplate, VisitorCode, WatchlistEntry


@dataclass(frozen=True)
class RotationReport:
    face_templates: int
    watchlist_entries: int
    unknown_key_rows: int
    live_visitor_codes: int  # hashed with the old key's secret: reissue them


def rotate_template_key(
    session: Session, old: TemplateCipher, new: TemplateCipher, at: datetime
) -> RotationReport:
    """Re-seal every row under `old.key_id` with `new`; authentication failures propagate."""
    if old.key_id == new.key_id:
        raise ValueError("the new key needs a new key id")
    faces = watch = unknown = 0
    for template in session.scalars(select(FaceTemplate)):
        if template.key_id != old.key_id:
            unknown += template.key_id != new.key_id
            continue
        aad = template_aad("face", str(template.person_id), template.model_id, template.dimension)
        vector = old.open(
            Sealed(template.key_id, template.nonce, template.ciphertext), aad, template.dimension
        )
        sealed = new.seal(vector, aad)
        template.key_id, template.nonce, template.ciphertext = (
            sealed.key_id,
            sealed.nonce,
            sealed.ciphertext,
        )
        faces += 1
    for entry in session.scalars(select(WatchlistEntry)):
        if entry.key_id != old.key_id:
            unknown += entry.key_id != new.key_id
            continue
        aad = template_aad("watchlist", entry.external_id, entry.model_id, entry.dimension)
        vector = old.open(Sealed(entry.key_id, entry.nonce, entry.ciphertext), aad, entry.dimension)
        sealed = new.seal(vector, aad)
        entry.key_id, entry.nonce, entry.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        watch += 1
    live_codes = session.scalar(
        select(func.count())
        .select_from(VisitorCode)
        .where(
            VisitorCode.revoked.is_(False),
            VisitorCode.valid_until > at,
            VisitorCode.use_count < VisitorCode.max_uses,
        )
    )
    session.flush()
    return RotationReport(faces, watch, unknown, int(live_codes or 0))
