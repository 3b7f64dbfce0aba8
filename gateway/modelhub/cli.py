"""`menwei models fetch | verify | list`: install, check and show the manifest's model packs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config
from gateway.config.model import ModelsConfig
from gateway.modelhub.fetch import fetch_pack, mirror_folder
from gateway.modelhub.integrity import ModelFileError, ModelIntegrityError, verify_file
from gateway.modelhub.manifest import Manifest, ManifestError, ModelEntry, load_manifest
from gateway.modelhub.resolve import LicenceNotAccepted, check_licences

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("models", help="fetch, verify and list face models")
    actions = group.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    fetch = actions.add_parser("fetch", help="install a pack from a mirror or upstream, verified")
    _common(fetch)
    fetch.add_argument(
        "--from",
        dest="mirror",
        type=Path,
        metavar="DIR",
        help="local mirror folder (else [models] mirror, else $MENWEI_MODELS_MIRROR; without"
        " one: the copies bundled in the package, else the official sources)",
    )
    fetch.add_argument(
        "--upstream",
        action="store_true",
        help="ignore mirrors and bundled copies: rebuild every model from its official source"
        " (download, or download + convert), checked against the same pinned sha256",
    )
    fetch.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="download cache for upstream archives (default ~/.cache/menwei)",
    )
    fetch.set_defaults(func=_fetch)

    verify = actions.add_parser("verify", help="re-hash a pack's files: ok / missing / mismatch")
    _common(verify)
    verify.add_argument("--json", action="store_true", help="machine-readable report")
    verify.set_defaults(func=_verify)

    listing = actions.add_parser("list", help="show packs and models from the manifest")
    listing.add_argument("--config", type=Path, metavar="FILE", help="gateway config (TOML)")
    listing.set_defaults(func=_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pack", help="pack name (default: [models] pack from the config)")
    parser.add_argument(
        "--dir",
        type=Path,
        metavar="DEST",
        help="model folder (default: [models] dir from the config)",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="gateway config (TOML)")


@dataclass(frozen=True)
class _Setup:
    config: ModelsConfig
    manifest: Manifest


def _setup(args: argparse.Namespace, command: str) -> _Setup | None:
    """Config (with --pack/--dir applied) and manifest; None after reporting a usage error."""
    try:
        config = load_config(getattr(args, "config", None)).models
        if getattr(args, "pack", None):
            config = config.model_copy(update={"pack": args.pack})
        if getattr(args, "dir", None):
            config = config.model_copy(update={"dir": args.dir})
        manifest = load_manifest(config.manifest)
        if command != "list":
            manifest.pack(config.pack)  # an unknown pack is a usage error
    except (ConfigError, ManifestError) as error:
        print(f"menwei models {command}: {error}", file=sys.stderr)
        return None
    return _Setup(config, manifest)


def _fetch(args: argparse.Namespace) -> int:
    setup = _setup(args, "fetch")
    if setup is None:
        return EXIT_USAGE
    pack = setup.manifest.pack(setup.config.pack)
    try:
        check_licences(pack, setup.manifest, setup.config.accept_licence)
    except LicenceNotAccepted as error:
        print(f"menwei models fetch: {error}", file=sys.stderr)
        return EXIT_PROBLEM
    mirror = None if args.upstream else mirror_folder(args.mirror, setup.config.mirror)
    results = fetch_pack(pack, setup.config.dir, mirror, args.cache, upstream=args.upstream)
    for result in results:
        stream = sys.stderr if result.action == "failed" else sys.stdout
        print(
            f"{result.action:9} {result.model_id:28} {result.path}  ({result.origin})", file=stream
        )
    failed = sum(result.action == "failed" for result in results)
    if args.upstream:
        where = "from the official sources"
    else:
        where = f"from {mirror}" if mirror is not None else "from the package and official sources"
    print(f"pack {pack.name!r} {where}: {len(results) - failed} verified, {failed} failed")
    return EXIT_PROBLEM if failed else EXIT_OK


def _check_one(entry: ModelEntry, folder: Path) -> dict[str, Any]:
    path = folder / entry.file
    report: dict[str, Any] = {
        "id": entry.id,
        "role": entry.role,
        "file": entry.file,
        "path": str(path),
        "expected_sha256": list(entry.accepted_sha256),
        "actual_sha256": None,
        "status": "ok",
    }
    try:
        report["actual_sha256"] = verify_file(path, entry.accepted_sha256)
    except ModelIntegrityError as error:
        report.update(status="mismatch", actual_sha256=error.actual)
    except ModelFileError:
        report["status"] = "missing"
    return report


def _verify(args: argparse.Namespace) -> int:
    setup = _setup(args, "verify")
    if setup is None:
        return EXIT_USAGE
    pack = setup.manifest.pack(setup.config.pack)
    files = [_check_one(entry, setup.config.dir) for entry in pack.models]
    ok = all(item["status"] == "ok" for item in files)
    if args.json:
        report = {"pack": pack.name, "dir": str(setup.config.dir), "ok": ok, "files": files}
        print(json.dumps(report, indent=2))
    else:
        for item in files:
            print(f"{item['status']:8} {item['id']:28} {item['path']}")
            if item["status"] == "mismatch":
                print(
                    f"         sha256 {item['actual_sha256']}, expected "
                    f"{' or '.join(item['expected_sha256'])}"
                )
        print(f"pack {pack.name!r}: {'OK' if ok else 'PROBLEMS'}")
    return EXIT_OK if ok else EXIT_PROBLEM


def _list(args: argparse.Namespace) -> int:
    setup = _setup(args, "list")
    if setup is None:
        return EXIT_USAGE
    manifest = setup.manifest
    print(f"packs ({manifest.path}):")
    for pack in manifest.packs.values():
        marker = "*" if pack.name == setup.config.pack else " "
        gated = sorted(
            {e.licence for e in pack.models if not manifest.licences[e.licence].commercial}
        )
        note = f"  [needs accept_licence: {', '.join(gated)}]" if gated else ""
        print(f" {marker} {pack.name:10} {pack.description}{note}")
        liveness = ", ".join(entry.id for entry in pack.liveness)
        print(f"      detector={pack.detector.id} embedder={pack.embedder.id} liveness={liveness}")
    print("models:")
    for entry in manifest.models.values():
        print(
            f"   {entry.id:28} {entry.role:9} {entry.size / 1e6:6.2f} MB  {entry.licence:27} "
            f"{entry.source.kind:8} {entry.file}"
        )
    return EXIT_OK
