"""Network streams: a URL that never answers fails within the open timeout with a clear, counted
error; a stream that stalls fails within the read timeout and the capture reconnects."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from gateway.camera.backoff import ExponentialBackoff
from gateway.camera.capture import CameraCapture, CaptureState
from gateway.camera.errors import SourceOpenError, SourceReadError
from gateway.camera.opencv_source import StreamSource
from tests.camera.mjpeg_server import StallingMjpegServer

OPEN_TIMEOUT_S = 1.0
SLACK_S = 4.0  # generous: two shared cores


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mjpeg_server() -> Iterator[StallingMjpegServer]:
    server = StallingMjpegServer(frames=5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    server.close()


def test_closed_port_fails_fast_with_a_clear_error() -> None:
    url = f"rtsp://user:pw@127.0.0.1:{closed_port()}/x"
    source = StreamSource(url, open_timeout_s=OPEN_TIMEOUT_S, read_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(SourceOpenError, match="refused or stream not found") as caught:
        source.open()
    assert time.monotonic() - started < OPEN_TIMEOUT_S + SLACK_S
    assert not caught.value.permanent  # a camera rebooting comes back: keep retrying
    assert "pw" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_server_that_never_answers_times_out(silent_server: int) -> None:
    source = StreamSource(
        f"rtsp://127.0.0.1:{silent_server}/x", open_timeout_s=OPEN_TIMEOUT_S, read_timeout_s=1.0
    )
    started = time.monotonic()
    with pytest.raises(SourceOpenError, match="no answer within the 1 s open timeout"):
        source.open()
    elapsed = time.monotonic() - started
    assert OPEN_TIMEOUT_S * 0.9 <= elapsed < OPEN_TIMEOUT_S + SLACK_S


def test_capture_keeps_retrying_a_dead_url_and_counts_the_failures() -> None:
    source = StreamSource(f"rtsp://127.0.0.1:{closed_port()}/x", open_timeout_s=OPEN_TIMEOUT_S)
    retried = threading.Event()

    def on_status(status: object) -> None:
        if getattr(status, "open_failures", 0) >= 2:
            retried.set()

    capture = CameraCapture(
        source,
        backoff=ExponentialBackoff(0.01, 0.05, rng=random.Random(1)),
        on_status=on_status,
    )
    capture.start()
    try:
        assert retried.wait(20), capture.status()
        status = capture.status()
        assert status.state is CaptureState.RECONNECTING
        assert status.last_error is not None and "refused" in status.last_error
        assert capture.latest(timeout=0.05) is None
    finally:
        assert capture.stop(timeout=OPEN_TIMEOUT_S + SLACK_S)
    assert capture.status().state is CaptureState.STOPPED


def test_a_stalled_stream_fails_within_the_read_timeout(mjpeg_server: StallingMjpegServer) -> None:
    source = StreamSource(mjpeg_server.url, open_timeout_s=5.0, read_timeout_s=1.0)
    source.open()
    try:
        levels = [round(float(source.read().image.mean())) for _ in range(5)]
        assert levels == pytest.approx([0, 40, 80, 120, 160], abs=2)
        started = time.monotonic()
        with pytest.raises(SourceReadError, match="no frame within 1 s"):
            source.read()
        assert time.monotonic() - started < 1.0 + SLACK_S
    finally:
        source.close()


def test_capture_reconnects_a_stalled_stream(mjpeg_server: StallingMjpegServer) -> None:
    source = StreamSource(mjpeg_server.url, open_timeout_s=5.0, read_timeout_s=0.5)
    capture = CameraCapture(source, backoff=ExponentialBackoff(0.05, 0.2, rng=random.Random(2)))
    capture.start()
    try:
        last = 0
        while last < 12:  # more than one connection's worth of frames
            frame = capture.latest(after_seq=last, timeout=30.0)
            assert frame is not None, capture.status()
            last = frame.seq
        status = capture.status()
    finally:
        assert capture.stop(timeout=10.0)
    assert mjpeg_server.connections >= 3
    assert status.read_failures >= 2 and status.reconnects == status.read_failures
    assert status.last_error is not None and "no frame within 0.5 s" in status.last_error
