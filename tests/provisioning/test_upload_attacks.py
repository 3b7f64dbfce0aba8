"""Stalled and slow uploads against a real `menwei run` (issue 12, item 6), over raw TLS sockets.

The attack as it was done: 100 uploads without a session, each announcing (or chunking) a large
body, sending megabytes of it and then stalling. The page must not buffer them (the session is
checked before the body is read), must close slow bodies after `body_timeout_s`, must cap how
many large bodies a signed-in client has in flight, and must keep answering meanwhile.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.provisioning.gateway_process import (
    MB,
    GatewayProcess,
    PeakRss,
    sign_in_admin,
    start_gateway,
)

pytestmark = [pytest.mark.shared, pytest.mark.slow]

BODY_TIMEOUT_S = 3
CONCURRENT_UPLOADS = 2
STALLED = 100
SENT_BEFORE_STALL = 3 * MB
ANNOUNCED = 8 * MB
UPLOAD_PATH = "/api/v1/people/1/face-templates"
# Allowed growth of the gateway's RSS while 100 uploads stall (the attack added ~1.2 GB).
RSS_BOUND = 64 * MB


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, models_mirror: Path
) -> Iterator[GatewayProcess]:
    process = start_gateway(
        tmp_path_factory.mktemp("gateway"),
        models_mirror,
        body_timeout_s=BODY_TIMEOUT_S,
        max_concurrent_uploads=CONCURRENT_UPLOADS,
    )
    yield process
    process.stop()


def request_head(length: int | None, cookie: str | None = None, path: str = UPLOAD_PATH) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=menwei",
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def stall_upload(gateway: GatewayProcess, chunked: bool) -> ssl.SSLSocket:
    """Open an upload, send SENT_BEFORE_STALL bytes of it, and stop (the socket stays open)."""
    sock = gateway.tls_socket()
    sock.sendall(request_head(None if chunked else ANNOUNCED))
    piece = b"x" * (64 * 1024)
    try:
        for _ in range(SENT_BEFORE_STALL // len(piece)):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
    except OSError:  # the server answered and closed: nothing more to send
        pass
    return sock


def read_answer(sock: ssl.SSLSocket, timeout: float) -> tuple[int | None, bool]:
    """(status or None, whether the server closed the connection) within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
        closed = True
    except TimeoutError:
        closed = False
    except OSError:  # reset: closed without (a readable) answer
        closed = True
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    return status, closed


def read_answers(sockets: list[ssl.SSLSocket], within: float) -> list[tuple[int | None, bool]]:
    """`read_answer` for each socket, all within one deadline (then each socket is closed)."""
    deadline = time.monotonic() + within
    answers = [read_answer(sock, max(0.1, deadline - time.monotonic())) for sock in sockets]
    for sock in sockets:
        sock.close()
    return answers


def test_stalled_uploads_without_a_session_do_not_grow_memory(gateway: GatewayProcess) -> None:
    baseline = gateway.rss_bytes()
    with PeakRss(gateway) as rss:
        sockets = [stall_upload(gateway, chunked=i % 2 == 1) for i in range(STALLED)]
        with gateway.client() as client:  # the page answers while they stall
            page = client.get("/login", headers={"accept": "text/html"}, follow_redirects=True)
            assert page.status_code == 200
    growth = rss.peak - baseline
    answers = read_answers(sockets, BODY_TIMEOUT_S + 30)
    assert growth < RSS_BOUND, f"RSS grew {growth / MB:.0f} MB under {STALLED} stalled uploads"
    assert all(closed for _status, closed in answers), "stalled uploads left open"
    statuses = {status for status, _closed in answers if status is not None}
    assert statuses <= {401}, statuses


def test_slow_bodies_are_closed_after_the_body_timeout(gateway: GatewayProcess) -> None:
    sockets = []
    for _ in range(20):  # small enough for a login form, sent a few bytes at a time
        sock = gateway.tls_socket()
        sock.sendall(request_head(4000, path="/login") + b"username=a&password=")
        sockets.append(sock)
    with gateway.client() as client:
        assert client.get("/healthz").status_code == 200
    assert read_answers(sockets, BODY_TIMEOUT_S + 30) == [(408, True)] * len(sockets)


def test_signed_in_uploads_are_capped_then_freed_by_the_timeout(gateway: GatewayProcess) -> None:
    client, csrf = sign_in_admin(gateway)
    try:
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        uploads = []
        for _ in range(CONCURRENT_UPLOADS + 1):  # one more than the cap, all stalling
            sock = gateway.tls_socket()
            sock.sendall(request_head(1 * MB, cookie) + b"x" * (100 * 1024))
            uploads.append(sock)
        small = client.post(  # a small body does not need an upload slot
            "/api/v1/people",
            json={"external_id": "r1", "role": "staff", "valid_from": "2026-01-01T00:00"},
            headers={"x-csrf-token": csrf},
        )
        assert small.status_code == 201, small.text
        answers = sorted(read_answers(uploads, BODY_TIMEOUT_S + 30))
        assert answers == [(408, True)] * CONCURRENT_UPLOADS + [(503, True)]
        large = client.post(  # slots are free again: a large body reaches the route
            "/api/v1/people",
            content=b'{"external_id": "' + b"y" * (200 * 1024) + b'"}',
            headers={"x-csrf-token": csrf, "content-type": "application/json"},
        )
        assert large.status_code == 422
        status = client.get("/api/v1/status").json()["checks"]
        counted = next(c for c in status if c["name"] == "staff page")["detail"]
        assert "body_refused_408" in counted and "body_refused_503" in counted
    finally:
        client.close()
