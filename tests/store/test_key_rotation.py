"""Key rotation re-seals every template under the new key id; the old key no longer opens them."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from gateway.store.credentials import store_face_template
from gateway.store.crypto import TemplateCipher
from gateway.store.gallery_load import load_gallery_rows
from gateway.store.key_rotation import rotate_template_key
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.store import Store
from gateway.store.watchlist import load_watchlist, upsert_watchlist_entry
from tests.store.conftest import T0, World

MODEL = "sface-2021dec"


def test_rotation_reseals_everything(store: Store, world: World) -> None:
    vectors = [np.random.default_rng(i).standard_normal(128).astype(np.float32) for i in range(3)]
    with store.sessions.writing() as session:
        for v in vectors[:2]:
            store_face_template(session, store.cipher, world.owner_id, v, MODEL)
        upsert_watchlist_entry(
            session,
            store.cipher,
            external_id="w-1",
            category="banned",
            model_id=MODEL,
            vector=vectors[2],
            version=1,
            at=T0,
        )
    new = TemplateCipher(bytes(range(32)), "k2")
    with store.sessions.writing() as session:
        report = rotate_template_key(session, store.cipher, new, T0)
    assert (report.face_templates, report.watchlist_entries, report.unknown_key_rows) == (2, 1, 0)
    with store.sessions.reading() as session:
        assert set(session.scalars(select(FaceTemplate.key_id))) == {"k2"}
        with_new = load_gallery_rows(session, new, MODEL, 128, T0)
        with_old = load_gallery_rows(session, store.cipher, MODEL, 128, T0)
        watch = load_watchlist(session, new, MODEL, 128)
    for row, expected in zip(with_new.rows, vectors[:2], strict=True):
        np.testing.assert_array_equal(row.vector, expected)
    assert with_old.rows == [] and len(with_old.unreadable_template_ids) == 2
    np.testing.assert_array_equal(watch.rows[0][2], vectors[2])
    with pytest.raises(ValueError, match="new key id"), store.sessions.writing() as session:
        rotate_template_key(session, new, TemplateCipher(bytes(32), "k2"), T0)
