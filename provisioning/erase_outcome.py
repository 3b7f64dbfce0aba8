"""What an erasure answers when the WAL could not be cleared after it.

`erase_and_purge` commits the erasure and then checkpoints and truncates SQLite's WAL, so old page
images of the erased rows do not linger there; a reader holding an old snapshot past the busy
timeout makes that step fail. The erasure itself stands, but the routes must not claim that
everything is gone: `settle_erasure` counts it, logs it, writes it to the audit log, keeps the
"staff page" health check failing until a later erasure clears the WAL, and answers 503
`erased_wal_pending` (an error page on the page, JSON on the API).
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from provisioning.auth import Principal
from provisioning.web import AppContext, audit

LOG = logging.getLogger("menwei.provisioning")
WAL_FAULT = "erase_wal_not_truncated"


def settle_erasure(
    context: AppContext, request: Request, user: Principal, pseudonym: str, wal_cleared: bool
) -> None:
    """Return quietly when the WAL was cleared; otherwise record the failure and raise 503."""
    context.counters.set_fault(WAL_FAULT, not wal_cleared)
    if wal_cleared:
        return
    context.counters.add(WAL_FAULT)
    LOG.error("erasure of %s committed, but the WAL could not be truncated (busy)", pseudonym)
    with context.deps.store.sessions.writing() as session:
        audit(session, request, user, WAL_FAULT, pseudonym)
    raise HTTPException(503, "erased_wal_pending")
