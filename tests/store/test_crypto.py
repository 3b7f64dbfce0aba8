"""Template key loading and AES-GCM sealing: key sources, associated data, key ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.config.store import StoreConfig
from gateway.store.crypto import TemplateCipher, load_key, parse_key, template_aad
from gateway.store.errors import KeyUnavailable, TemplateIntegrityError

KEY = bytes(range(32))


def test_key_from_file_raw_or_hex(tmp_path: Path) -> None:
    raw = tmp_path / "raw.key"
    raw.write_bytes(KEY)
    hexed = tmp_path / "hex.key"
    hexed.write_text(KEY.hex() + "\n")
    assert load_key(StoreConfig(key_file=raw), {}) == KEY
    assert load_key(StoreConfig(key_file=hexed), {}) == KEY


def test_key_from_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "menwei-template-key").write_text(KEY.hex())
    config = StoreConfig(key_credential="menwei-template-key")
    assert load_key(config, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == KEY
    with pytest.raises(KeyUnavailable, match="CREDENTIALS_DIRECTORY"):
        load_key(config, {})


def test_missing_or_short_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable, match="no template key"):
        load_key(StoreConfig(), {})
    with pytest.raises(KeyUnavailable, match="cannot read"):
        load_key(StoreConfig(key_file=tmp_path / "absent"), {})
    with pytest.raises(KeyUnavailable, match="16 bytes"):
        parse_key(b"0123456789abcdef", "k")


def test_both_key_sources_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not both"):
        StoreConfig(key_file=Path("k"), key_credential="k")


def test_sealed_template_opens_only_with_its_own_associated_data() -> None:
    cipher = TemplateCipher(KEY, "k1")
    vector = np.linspace(-1, 1, 128, dtype=np.float32)
    aad = template_aad("face", "7", "sface-2021dec", 128)
    sealed = cipher.seal(vector, aad)
    assert vector.tobytes() not in sealed.ciphertext
    np.testing.assert_array_equal(cipher.open(sealed, aad, 128), vector)
    for other in (
        template_aad("face", "8", "sface-2021dec", 128),  # another person's row
        template_aad("face", "7", "arcface-r100", 128),  # relabelled as another model
        template_aad("watchlist", "7", "sface-2021dec", 128),
    ):
        with pytest.raises(TemplateIntegrityError):
            cipher.open(sealed, other, 128)
    with pytest.raises(TemplateIntegrityError, match="key 'k1'"):
        TemplateCipher(KEY, "k2").open(sealed, aad, 128)
    with pytest.raises(TemplateIntegrityError):
        TemplateCipher(bytes(32), "k1").open(sealed, aad, 128)


def test_nonces_differ_between_seals() -> None:
    cipher = TemplateCipher(KEY, "k1")
    aad = template_aad("face", "1", "m", 4)
    first, second = cipher.seal([1, 2, 3, 4], aad), cipher.seal([1, 2, 3, 4], aad)
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext
