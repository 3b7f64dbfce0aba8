"""CSV readers: good rows parse, malformed files fail naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.eval.datasets import (
    DatasetError,
    read_identities,
    read_liveness_manifest,
    read_pairs,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_pairs_parse(tmp_path: Path) -> None:
    pairs = read_pairs(write(tmp_path, "fold,same,path1,path2\n2,1,a.jpg,b.jpg\n3,0,c.jpg,d.jpg\n"))
    assert [(p.fold, p.same, p.path1) for p in pairs] == [(2, True, "a.jpg"), (3, False, "c.jpg")]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("fold,same,path1\n1,1,a.jpg\n", "missing column"),
        ("fold,same,path1,path2\nx,1,a.jpg,b.jpg\n", ":2: fold"),
        ("fold,same,path1,path2\n1,yes,a.jpg,b.jpg\n", ":2: expected"),
        ("fold,same,path1,path2\n1,1,,b.jpg\n", ":2: empty value"),
        ("fold,same,path1,path2\n", "no pairs"),
    ],
)
def test_malformed_pairs_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(DatasetError, match=fragment):
        read_pairs(write(tmp_path, text))


def test_liveness_labels(tmp_path: Path) -> None:
    samples = read_liveness_manifest(
        write(
            tmp_path,
            "path,liveness_label,attack_type,subject\na,live,none,s\nb,spoof,print_photo,s\n",
        )
    )
    assert [(s.live, s.attack_type) for s in samples] == [
        (True, "bona_fide"),
        (False, "print_photo"),
    ]
    with pytest.raises(DatasetError, match="'live' or 'spoof'"):
        read_liveness_manifest(write(tmp_path, "path,liveness_label,attack_type\na,real,none\n"))


def test_identities_and_missing_file(tmp_path: Path) -> None:
    images = read_identities(write(tmp_path, "path,label\na.jpg,Ann\n"))
    assert images[0].label == "Ann"
    with pytest.raises(DatasetError, match="cannot open"):
        read_identities(tmp_path / "absent.csv")
