"""`menwei run --config FILE`: run the access service until SIGTERM or Ctrl-C.

The relay is de-energised however the process ends (door_session turns SIGTERM into SystemExit
in the main thread). If a worker thread dies, the process exits non-zero so systemd restarts it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config
from gateway.ops.logging_setup import configure_logging
from gateway.runtime.adapters import StaffPageStarter, no_staff_page

LOG = logging.getLogger("menwei.run")


def register(subparsers: Any, staff_page: StaffPageStarter = no_staff_page) -> None:
    parser = subparsers.add_parser("run", help="run the gateway beside the door")
    parser.add_argument("--config", type=Path, help="TOML config file (default: built-ins)")
    parser.set_defaults(func=lambda args: run(args, staff_page))


def _start_failures() -> tuple[type[BaseException], ...]:
    """What an operator fixes by hand (a model, the manifest, a licence, the store, the door
    line): one line on stderr and exit 2, not a traceback. Bugs still raise."""
    from gateway.modelhub import LicenceNotAccepted, ManifestError, ModelFileError
    from gateway.runtime.bootstrap import DoorOwnershipError
    from gateway.store.errors import StoreError

    return (ModelFileError, ManifestError, LicenceNotAccepted, StoreError, DoorOwnershipError)


def run(args: argparse.Namespace, staff_page: StaffPageStarter = no_staff_page) -> int:
    from gateway.runtime.service import AccessService  # heavy: models, OpenCV

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error)
        return 2
    configure_logging(config.logging, verbose=getattr(args, "verbose", False))
    service = AccessService(
        config,
        on_decision=lambda d: LOG.info(
            "decision %s %s %s person=%s",
            d.method,
            "GRANT" if d.granted else "DENY",
            d.reason,
            d.person_id,
        ),
    )
    try:
        with service:
            page = staff_page(service.application, config.provisioning, args.config)
            try:
                while service.alive():
                    time.sleep(1.0)
                LOG.error("a worker thread stopped: exiting so the supervisor restarts menwei")
                return 1
            finally:
                if page is not None:
                    page.stop()
    except _start_failures() as error:
        LOG.error("cannot start: %s", error)
        print(f"menwei: cannot start: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        LOG.info("interrupted: stopping")
    except SystemExit:
        LOG.info("SIGTERM: stopped with the relay de-energised")
    return 0
