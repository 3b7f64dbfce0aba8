"""Request bodies before any route sees them: who may send one, how large, how slowly, how many.

What strangers send must not decide how much memory the staff page uses. `UploadGate` (ASGI
middleware, outermost) handles every request that may carry a body (all but GET/HEAD/OPTIONS):

1. It resolves the session cookie before reading a byte of the body. Without a live session a
   body may be at most `ANONYMOUS_BODY_BYTES` (the login and setup forms are far smaller); a
   larger one is refused with 401 (a browser is sent to the login page).
2. A signed-in body may be at most `max_upload_bytes`, announced or streamed (413).
3. At most `max_concurrent_uploads` requests with a body above `ANONYMOUS_BODY_BYTES` are in
   flight at once (from the first byte until the route has answered); one more gets 503 at once.
4. The whole body must arrive within `body_timeout_s` (408).

Every refusal answers with `Connection: close` (uvicorn then closes the socket instead of reading
the rest) and is counted in `WebCounters` (the dashboard's "staff page" line; logged at DEBUG
only, so a flood of refusals cannot flood the journal). An accepted body is read here in full and
handed to the app in one piece, so a refused upload never reaches a route or stores anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config.staff_page import ProvisioningConfig
from provisioning.counters import WebCounters
from provisioning.web import SESSION_COOKIE, translator

LOG = logging.getLogger("menwei.provisioning")
ANONYMOUS_BODY_BYTES = 16 * 1024
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MB = 1024 * 1024

SignedIn = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class Refusal:
    """Why a body was refused: HTTP status, message key (and counter name), translator values."""

    status: int
    key: str
    values: tuple[tuple[str, object], ...] = ()


class UploadSlots:
    """At most `limit` large bodies in flight (thread-safe: an app may be served by two loops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_use = 0

    def take(self, limit: int) -> bool:
        with self._lock:
            if self.in_use >= limit:
                return False
            self.in_use += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.in_use -= 1


class SlotHold:
    """One request's claim on a slot, taken at most once and given back by `release`."""

    def __init__(self, slots: UploadSlots) -> None:
        self.slots = slots
        self.held = False

    def take(self, limit: int) -> bool:
        if not self.held:
            self.held = self.slots.take(limit)
        return self.held

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.give_back()


def declared_length(scope: Scope) -> int | None:
    """Content-Length when announced (None for a chunked body); -1 when malformed."""
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 19 else -1
    return None


class UploadGate:
    """The middleware; `settings` is read per request, so a changed upload limit applies at once."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Callable[[], ProvisioningConfig],
        signed_in: SignedIn,
        counters: WebCounters,
    ) -> None:
        self.app = app
        self.settings = settings
        self.signed_in = signed_in
        self.counters = counters
        self.slots = UploadSlots()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        token = Request(scope).cookies.get(SESSION_COOKIE)
        anonymous = not token or not await self.signed_in(token)
        limit = ANONYMOUS_BODY_BYTES if anonymous else settings.max_upload_bytes
        declared = declared_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await self._refuse(scope, send, self._too_large(anonymous, settings))
            return
        hold = SlotHold(self.slots)
        try:
            large = declared is not None and declared > ANONYMOUS_BODY_BYTES
            if large and not hold.take(settings.max_concurrent_uploads):
                await self._refuse(scope, send, Refusal(503, "uploads_busy"))
                return
            outcome = await self._read(receive, limit, anonymous, settings, hold)
            if outcome is None:
                return  # the client went away: nobody to answer
            if isinstance(outcome, Refusal):
                await self._refuse(scope, send, outcome)
                return
            await self.app(scope, _replay(outcome, receive), send)
        finally:
            hold.release()

    async def _read(
        self,
        receive: Receive,
        limit: int,
        anonymous: bool,
        settings: ProvisioningConfig,
        hold: SlotHold,
    ) -> bytes | Refusal | None:
        """The whole body, a Refusal, or None when the client disconnected."""
        chunks: list[bytes] = []
        received = 0
        try:
            with anyio.fail_after(settings.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > limit:
                        return self._too_large(anonymous, settings)
                    if received > ANONYMOUS_BODY_BYTES and not hold.take(
                        settings.max_concurrent_uploads
                    ):
                        return Refusal(503, "uploads_busy")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            return Refusal(408, "body_timeout", (("seconds", settings.body_timeout_s),))

    @staticmethod
    def _too_large(anonymous: bool, settings: ProvisioningConfig) -> Refusal:
        if anonymous:
            return Refusal(401, "login_required")
        megabytes = max(1, settings.max_upload_bytes // MB)
        return Refusal(413, "upload_too_large", (("limit", megabytes),))

    async def _refuse(self, scope: Scope, send: Send, refusal: Refusal) -> None:
        self.counters.add(f"body_refused_{refusal.status}")
        client = scope.get("client")
        LOG.debug(  # counted and shown on the dashboard; a flood must not flood the journal
            "request body refused (%d %s): %s %s from %s",
            refusal.status,
            refusal.key,
            scope["method"],
            scope["path"],
            client[0] if client else "?",
        )
        request = Request(scope)
        headers = {"connection": "close"}
        if refusal.status == 503:
            headers["retry-after"] = "10"
        response: Response
        wants_html = "text/html" in request.headers.get("accept", "")
        if refusal.status == 401 and wants_html and not scope["path"].startswith("/api/"):
            target = f"/login?next={scope['path']}&msg=login_required"
            response = RedirectResponse(target, status_code=303, headers=headers)
        else:
            text = translator(request)(refusal.key, **dict(refusal.values))
            body = {"detail": refusal.key, "message": text}
            response = JSONResponse(body, status_code=refusal.status, headers=headers)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields the buffered body once, then waits on the real one (disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
