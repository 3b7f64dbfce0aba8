"""A tiny local MJPEG-over-HTTP server for stream tests: it serves a few frames, then stalls.

FFMPEG reads it like any network camera, so the real open/read timeout and reconnect paths run
without an RTSP server.
"""

from __future__ import annotations

import socket
import threading

import cv2
import numpy as np


class StallingMjpegServer:
    """Each connection gets `frames` JPEG parts (grey levels 0, 40, 80, ...), then silence."""

    def __init__(self, frames: int = 5) -> None:
        self.frames = frames
        self.connections = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="mjpeg-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/stream.mjpg"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for client in self._clients:
            client.close()
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._clients.append(client)
            try:
                self._send(client)
            except OSError:
                continue  # the reader went away; wait for the next connection

    def _send(self, client: socket.socket) -> None:
        client.settimeout(5)
        client.recv(4096)
        client.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
        )
        for index in range(self.frames):
            ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), index * 40 % 256, np.uint8))
            assert ok
            data = jpeg.tobytes()
            head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
            client.sendall(head + data + b"\r\n")
