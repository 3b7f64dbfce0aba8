"""`menwei hw ...` installer commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from menwei.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_encode_then_decode_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, bits = run(
        capsys, "hw", "wiegand", "encode", "--format", "34", "--facility", "4660", "--card", "22136"
    )
    assert code == 0 and len(bits.strip()) == 34
    code, out = run(capsys, "hw", "wiegand", "decode", bits.strip())
    assert (code, out.strip()) == (0, "card format=34 facility=4660 card=22136")
    assert run(capsys, "hw", "wiegand", "encode", "--key", "#", "--key-bits", "8") == (
        0,
        "01001011\n",
    )


def test_decode_explains_invalid_frames(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "hw", "wiegand", "decode", "00000110000001101100000000")
    assert code == 1 and "parity" in out and "26-bit" in out
    code, out = run(capsys, "hw", "wiegand", "decode", "101")
    assert code == 1 and "too_short" in out


def test_encode_rejects_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "hw", "wiegand", "encode", "--facility", "300", "--card", "1")
    assert code == 2 and "facility 300 outside 0..255" in out


def test_pulse_on_sim_reports_relay_on_then_off(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "hw", "pulse", "--ms", "200", "--backend", "sim")
    assert code == 0
    assert "relay ON" in out and "relay off" in out
    assert "fail-secure strike" in out


def test_config_file_selects_backend_and_missing_chip_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(
        '[door]\nbackend = "gpiod"\nlock_type = "fail_safe"\n'
        '[door.gpiod]\nchip = "/dev/gpiochip7"\n'
    )
    code, out = run(capsys, "hw", "watch", "--seconds", "0.1", "--config", str(path))
    assert code == 1
    assert "GPIO chip /dev/gpiochip7 not found" in out and "relay line GPIO17" in out
    code, out = run(capsys, "hw", "effective", "--config", str(path))
    assert code == 0 and "fail-safe maglock" in out


def test_bad_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[door]\nunlock_ms = 5\n")
    code, out = run(capsys, "hw", "pulse", "--config", str(path))
    assert code == 2 and "door.unlock_ms" in out
