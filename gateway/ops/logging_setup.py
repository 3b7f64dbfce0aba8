"""Log set-up: plain text for a terminal, one JSON object per line for the journal.

`configure_logging(config.logging)` replaces the root handlers. With `json_format = true` each
record becomes `{"ts", "level", "logger", "thread", "msg", ...}` plus any `extra=` fields and the
formatted exception. Under systemd ($JOURNAL_STREAM set) each line is prefixed with the
`<N>` syslog priority, which journald strips and uses as the entry's PRIORITY, so
`journalctl -p warning -u menwei` works on JSON lines too.

`logging.level` can change at run time (the station's `set_config`): `apply_log_level` is the
hook that makes the new level take effect on the root logger, which every menwei logger follows.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.config.model import LoggingConfig

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
) | {"message", "asctime", "taskName"}

_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def syslog_priority(levelno: int) -> int:
    """The syslog priority (0-7) for a logging level (custom levels round down)."""
    for level in sorted(_SYSLOG_PRIORITY, reverse=True):
        if levelno >= level:
            return _SYSLOG_PRIORITY[level]
    return 7


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `priority_prefix` adds journald's `<N>` level prefix."""

    def __init__(self, *, priority_prefix: bool = False) -> None:
        super().__init__()
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in document:
                document[key] = _jsonable(value)
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(document, ensure_ascii=False)
        if self.priority_prefix:
            return f"<{syslog_priority(record.levelno)}>{line}"
        return line


def configure_logging(
    config: LoggingConfig,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> logging.Handler:
    """Replace the root logger's handlers with one configured handler; returns it.

    `verbose` forces DEBUG (the CLI's -v). The journal prefix is used when $JOURNAL_STREAM is
    set, i.e. when stderr is connected to journald.
    """
    env = os.environ if environ is None else environ
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if config.json_format:
        handler.setFormatter(JsonFormatter(priority_prefix=bool(env.get("JOURNAL_STREAM"))))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else config.level)
    return handler


def apply_log_level(level: object) -> None:
    """Set the root logger's level to a validated `logging.level` value (run-time change)."""
    name = str(level)
    if name not in logging.getLevelNamesMapping():
        raise ValueError(f"unknown log level {name!r}")
    logging.getLogger().setLevel(name)
    logging.getLogger(__name__).warning("log level set to %s", name)


# Config keys whose run-time change needs more than the new value in the config object.
RUNTIME_APPLIERS = {"logging.level": apply_log_level}
