"""`menwei people check-confusable [--config FILE]`: run the confusable-faces check now.

The same check the gateway runs at start-up after a model or threshold change (see
gateway.access.confusable), for an installer who changed either and wants the result before the
restart. Exit codes: 0 when it ran (pairs found or not), 2 for a configuration that does not load,
1 when the models or the store cannot be opened.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config

LOG = logging.getLogger("menwei.people")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("people", help="resident checks that need the models")
    commands = parser.add_subparsers(dest="people_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check-confusable",
        help="find residents whose faces the door could confuse; set both to two factors",
    )
    check.add_argument("--config", type=Path, metavar="FILE", help="gateway config (TOML)")
    check.set_defaults(func=check_confusable)


def check_confusable(args: argparse.Namespace) -> int:
    from gateway.access.confusable import check_residents  # heavy: models, numpy
    from gateway.store.errors import StoreError
    from gateway.store.store import open_store
    from gateway.vision.factory import effective_thresholds, load_pipeline
    from gateway.vision.recogniser import rule_from_config

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error)
        return 2
    try:
        pipeline, models = load_pipeline(config)
        resident, _watch = effective_thresholds(models, config.vision)
        store = open_store(config.store)
    except (OSError, ValueError, StoreError) as error:
        print(f"cannot run the check: {error}")
        return 1
    rule = rule_from_config(
        config.vision, resident, models.small_gallery_threshold, models.fusion_agreement
    )
    try:
        report = check_residents(
            store,
            model_id=pipeline.model_id,
            dimension=pipeline.embedder.dimension,
            rule=rule,
            at=datetime.now(UTC),
            trigger="command",
        )
    finally:
        store.close()
    assert report is not None
    print(
        f"model {report.model_id}: {report.people} people checked, threshold "
        f"{report.threshold:.4f}; {len(report.pairs)} confusable pairs, "
        f"{len(report.newly_two_factor)} people newly set to two factors"
    )
    for pair in report.pairs:
        print(f"  person {pair.first} ~ person {pair.second}: {pair.score:.4f}")
    return 0
