"""`Refused`: what a command raises when it breaks a rule and changes nothing. `code` is stable
(adapters map it to their protocol's error: an HTTP status, a station result's error code) and
the message says what to fix."""

from __future__ import annotations


class Refused(ValueError):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code if message is None else message)
        self.code = code
