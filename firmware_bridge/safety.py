"""Start/stop lifecycle that guarantees the relay is de-energised at start, at stop, on SIGTERM
and when an unhandled exception leaves the block.

    with door_session(io, config) as door_io:
        ...  # run the access service

SIGTERM is turned into `SystemExit(143)` (main thread only) so the same `finally` runs.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from firmware_bridge.config import DoorConfig
from firmware_bridge.io import DoorIO, HardwareError
from firmware_bridge.lock import effective_config

log = logging.getLogger(__name__)
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def door_session(io: DoorIO, config: DoorConfig) -> Iterator[DoorIO]:
    """Start `io` in its safe state and put it back in that state however the block ends."""
    log.info("effective door config:\n%s", effective_config(config))
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_system_exit) if in_main else None
    try:
        io.start()  # each backend writes the safe state before and after opening the device
        yield io
    except HardwareError as error:
        log.error("door hardware failed (%s): dropping the relay", error)
        raise
    except BaseException:
        log.exception("door I/O session ended by an exception: dropping the relay")
        raise
    finally:
        try:
            io.go_safe()
        except Exception as error:
            log.error("could not de-energise the relay on the way out: %s", error)
        finally:
            io.stop()
            if in_main:
                signal.signal(signal.SIGTERM, previous)
