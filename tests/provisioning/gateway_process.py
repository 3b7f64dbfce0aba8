"""`menwei run` as a real process, its staff page on a free local port, for attacks from outside.

Tests drive it over real TLS sockets (raw ones for stalled bodies, httpx for the rest) and read the
process's resident memory from /proc, the way the attacker's measurements were taken. The door is
the simulator and the camera a folder holding one grey frame; the models are the real ones.
"""

from __future__ import annotations

import re
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from provisioning.config_file import to_toml

TOKEN_RE = re.compile(r"setup token: (\S+)")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ADMIN = ("admin", "Door-Keeper-2026!")
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert match, "no VmRSS: is the gateway still running?"
        return int(match.group(1)) * 1024

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"https://127.0.0.1:{self.port}", verify=False, timeout=120.0)

    def tls_socket(self, timeout: float = 30.0) -> ssl.SSLSocket:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return context.wrap_socket(raw, server_hostname="127.0.0.1")

    def setup_token(self) -> str:
        match = TOKEN_RE.search(self.log.read_text(errors="replace"))
        assert match, "the gateway announced no setup token"
        return match.group(1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_gateway(folder: Path, models_dir: Path, **provisioning: Any) -> GatewayProcess:
    """Write a config under `folder` and start `menwei run` on it; returns once the page answers."""
    folder.mkdir(parents=True, exist_ok=True)
    camera = folder / "camera"
    camera.mkdir(exist_ok=True)
    cv2.imwrite(str(camera / "empty.png"), np.full((240, 320, 3), 100, np.uint8))
    key = folder / "template.key"
    key.write_text(secrets.token_hex(32))
    port = free_port()
    config = {
        "models": {"dir": str(models_dir)},
        "store": {
            "url": f"sqlite:///{folder / 'menwei.db'}",
            "key_file": str(key),
            "backup_dir": str(folder / "backups"),
        },
        "camera": {"source": str(camera), "kind": "folder", "paced": True, "folder_fps": 2.0},
        "door": {"backend": "sim"},
        "provisioning": {
            "bind": "127.0.0.1",
            "port": port,
            "tls_cert": str(folder / "tls" / "cert.pem"),
            "tls_key": str(folder / "tls" / "key.pem"),
            "photo_dir": str(folder / "photos"),
            **provisioning,
        },
    }
    config_file = folder / "menwei.toml"
    config_file.write_text(to_toml(config), encoding="utf-8")
    log = folder / "gateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "menwei.main", "run", "--config", str(config_file)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(process, port, log)
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise AssertionError("menwei run exited:\n" + log.read_text(errors="replace")[-3000:])
        try:
            with gateway.client() as client:
                if client.get("/healthz").status_code == 200:
                    return gateway
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            gateway.stop()
            raise AssertionError("the staff page did not come up:\n" + log.read_text()[-3000:])
        time.sleep(0.5)


def sign_in_admin(gateway: GatewayProcess) -> tuple[httpx.Client, str]:
    """Create the first admin with the announced token, sign in over the API: (client, CSRF)."""
    client = gateway.client()
    page = client.get("/setup", headers={"accept": "text/html"})
    match = CSRF_RE.search(page.text)
    assert match, page.text[:300]
    created = client.post(
        "/setup",
        data={
            "csrf_token": match.group(1),
            "token": gateway.setup_token(),
            "username": ADMIN[0],
            "password": ADMIN[1],
            "password_again": ADMIN[1],
        },
    )
    assert created.status_code in (200, 303), created.text[:300]
    login = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert login.status_code == 200, login.text
    return client, str(login.json()["csrf_token"])


class PeakRss:
    """Samples the gateway's VmRSS every 20 ms while in the `with` block; `peak` is the highest."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.gateway = gateway
        self.peak = gateway.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.gateway.rss_bytes())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self.gateway.rss_bytes())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int = 16000, height: int = 16000, rows_per_block: int = 100) -> bytes:
    """A valid 16-bit RGBA PNG of zeros: ~2 MB on the wire, width*height*8 bytes decoded.

    Built without holding the raster: a block of zero rows deflated once after a full flush
    compresses to the same bytes every time, so the stream is that block repeated, plus the
    Adler-32 of N zero bytes, which is ((N mod 65521) << 16) | 1.
    """
    row = 1 + width * 8  # filter byte + RGBA, 2 bytes per sample
    assert height % rows_per_block == 0
    block = b"\x00" * (row * rows_per_block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate.compress(block)
    deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    adler = (((row * height) % 65521) << 16) | 1
    stream = b"\x78\xda" + repeated * (height // rows_per_block) + final
    stream += struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to declare width x height."""
    noise = np.random.default_rng(7).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", noise)
    assert ok
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)
