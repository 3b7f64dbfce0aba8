"""From one received command message to its one committed result: verify, claim, run, record.

`CommandFlow.answer` is called by the link's command worker for every message on `cmd/<name>`;
the link acknowledges the message to the broker only after `answer` returned, that is after the
result is committed to the outbox (or deliberately left out). So a crash at any point leaves the
message unacknowledged and the broker re-delivers it (DUP set) when the gateway reconnects:

* crash before the nonce was committed: the re-delivery runs as if new;
* crash after the nonce, before the result: the nonce is `seen` and unanswered, no result row
  exists, so the re-delivery is answered `replayed` ("did not run again") — its only result;
* crash after the result row, before the ack: the ledger (or, in the short window before the
  ledger was updated, the outbox itself) shows the result was committed, so the re-delivery is
  acknowledged without a second result. A signed command refused before its nonce was claimed
  (expired, wrong target, ...) is looked up in the outbox the same way when it comes back.

A new message carrying a nonce already seen (a replay, not a re-delivery) is answered `replayed`,
with the first result's summary in `data.first_result`. Refusals before the signature verified
are rate limited (`RefusalLimiter`). A result that cannot be committed (the store is failing) is
retried until it is, or until the link stops (then the message stays unacknowledged).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway.station.commands import CommandHandlers, CommandResult
from gateway.station.envelope import COMMAND_RESULT_TOPIC
from gateway.station.nonces import NonceCache
from gateway.station.outbox_rows import command_result_committed
from gateway.station.refusals import RefusalLimiter
from gateway.station.verify import Expectation, Refusal, verify_command
from gateway.store.events import enqueue
from gateway.store.store import Store

LOG = logging.getLogger(__name__)
UNFINISHED = (
    "re-delivered after the gateway restarted while running it; it did not run again "
    "(an open that was decided is in the access events)"
)
SUMMARY_DATA_BYTES = 1024  # data kept with the nonce for `first_result` (not a snapshot's image)


@dataclass
class FlowCounters:
    run: int = 0
    refused: int = 0
    suppressed: int = 0
    redelivered: int = 0


@dataclass(frozen=True)
class CommandMessage:
    """What the flow needs of one MQTT message."""

    name: str  # the topic's command name
    payload: bytes | None  # None: not kept (too large for its topic, or over the byte budget)
    size: int
    retained: bool = False
    dup: bool = False  # re-sent by the broker: this gateway may have seen it before
    over_budget: bool = False


def _summary(result: CommandResult) -> dict[str, Any]:
    summary: dict[str, Any] = {"ok": result.ok, "error": result.error, "message": result.message}
    data = json.dumps(result.data, default=str)
    if len(data) <= SUMMARY_DATA_BYTES:
        summary["data"] = result.data
    return summary


class CommandFlow:
    """Answers received commands; one instance per link, used by its single command worker."""

    def __init__(
        self,
        store: Store,
        gateway_id: str,
        expect: Expectation,
        handlers: CommandHandlers,
        limiter: RefusalLimiter,
        *,
        now: Callable[[], datetime],
        notify: Callable[[], None],
        stopping: threading.Event,
    ) -> None:
        self.store = store
        self.gateway_id = gateway_id
        self.expect = expect
        self.handlers = handlers
        self.limiter = limiter
        self.now = now
        self.notify = notify
        self.stopping = stopping
        self.nonces: NonceCache | None = None
        self.counters = FlowCounters()

    def answer(self, message: CommandMessage) -> CommandResult | None:
        """Decide and commit this message's result; None when no new result was written."""
        now = self.now()
        if message.payload is None:
            checked: Any = (
                Refusal("busy", "too many large commands queued; retry later", name=message.name)
                if message.over_budget
                else Refusal(
                    "too_large",
                    f"{message.size} bytes is more than a {message.name!r} command may hold",
                    name=message.name,
                )
            )
        else:
            checked = verify_command(
                message.payload,
                topic_command=message.name,
                retained=message.retained,
                expect=self.expect,
                now=now,
            )
        if isinstance(checked, Refusal):
            if message.dup and checked.authenticated and self._answered_before(checked, now):
                return None  # a signed command refused before the crash: refused once only
            return self._refuse(message.name, checked, now)
        assert self.nonces is not None, "the link opens the nonce cache before any command"
        try:
            claim = self.nonces.claim(checked.nonce, checked.command_id, checked.expires_at, now)
        except Exception as error:  # e.g. a full disk: refuse, door shut, the real error said
            LOG.error("nonce cache failed for command %s: %r", checked.command_id, error)
            result = CommandResult(False, "internal_error", f"nonce cache failed: {error!r}")
            return self._commit(message.name, checked.command_id, result, now)
        if claim.status == "full":
            result = CommandResult(False, "busy", "too many live commands; retry later")
            return self._commit(message.name, checked.command_id, result, now)
        if claim.status == "seen":
            return self._seen_again(message, checked.command_id, claim.result, claim.claimed_at)
        result = self.handlers.run(checked, now)
        self.counters.run += 1
        self._commit(message.name, checked.command_id, result, now)
        self._remember(checked.command_id, _summary(result))
        return result

    def _refuse(self, name: str, refusal: Refusal, now: datetime) -> CommandResult | None:
        self.counters.refused += 1
        data: dict[str, Any] = {}
        if not refusal.authenticated:
            left_out = self.limiter.take()
            if left_out is None:
                self.counters.suppressed += 1
                LOG.debug("unauthenticated refusal on %s not answered (rate limit)", name)
                return None
            if left_out:
                data["suppressed"] = left_out
        LOG.warning("command %s (%s) refused: %s", name, refusal.command_id, refusal.error)
        result = CommandResult(False, refusal.error, refusal.message, data)
        return self._commit(name, refusal.command_id, result, now, refusal.authenticated)

    def _seen_again(
        self,
        message: CommandMessage,
        command_id: str,
        first: dict[str, Any] | None,
        claimed_at: float | None,
    ) -> CommandResult | None:
        now = self.now()
        if not message.dup:  # a new message with a used nonce or id: a replay
            data = {"first_result": first} if first is not None else {}
            result = CommandResult(False, "replayed", "this command was already received", data)
            self.counters.refused += 1
            return self._commit(message.name, command_id, result, now)
        self.counters.redelivered += 1
        if first is not None:
            return None  # answered before the crash: its result is already in the outbox
        since = datetime.fromtimestamp(claimed_at or 0.0, UTC)
        with self.store.sessions.reading() as session:
            committed = command_result_committed(session, self.gateway_id, command_id, since)
        if committed:  # died between the result row and the ledger update
            self._remember(command_id, {"ok": None, "error": None, "message": "committed"})
            return None
        result = CommandResult(False, "replayed", UNFINISHED)
        self._commit(message.name, command_id, result, now)
        self._remember(command_id, _summary(result))
        return result

    def _answered_before(self, refusal: Refusal, now: datetime) -> bool:
        if refusal.command_id is None:
            return False
        since = now - self.expect.max_lifetime - self.expect.clock_skew
        with self.store.sessions.reading() as session:
            return command_result_committed(session, self.gateway_id, refusal.command_id, since)

    def _remember(self, command_id: str, summary: dict[str, Any]) -> None:
        assert self.nonces is not None
        try:
            self.nonces.answered(command_id, summary)
        except Exception as error:  # the outbox check covers a re-delivery without the ledger
            LOG.error("could not record the result of %s in the nonce cache: %r", command_id, error)

    def _commit(
        self,
        name: str,
        command_id: str | None,
        result: CommandResult,
        at: datetime,
        authenticated: bool = True,
    ) -> CommandResult:
        body = {
            "command_id": command_id,
            "name": name,
            "ok": result.ok,
            "error": result.error,
            "message": result.message,
            "data": result.data,
            "at": at.isoformat(),
            "authenticated": authenticated,
        }
        pause = 0.5
        while True:
            try:
                with self.store.sessions.writing() as session:
                    enqueue(session, self.gateway_id, COMMAND_RESULT_TOPIC, body, at)
                break
            except SQLAlchemyError as error:
                if self.stopping.is_set():
                    raise
                LOG.error("result of %s (%s) not committed, retrying: %s", name, command_id, error)
                self.stopping.wait(pause)
                pause = min(pause * 2, 10.0)
        self.notify()
        return result
