"""Serving the staff page over HTTPS beside the access service: a uvicorn server in a thread.

`start_server(app, settings)` makes sure a certificate exists (self-signed at first start),
starts uvicorn with it on the configured address, waits until it listens, and returns a handle
whose `stop()` shuts it down. `menwei run` calls it after the AccessService has started.
Connections and requests in flight are capped at `max_connections` (uvicorn answers 503 beyond);
bodies are bounded by the app's `UploadGate` (size, time, concurrency, login first).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from gateway.config.staff_page import ProvisioningConfig
from provisioning.tls import ensure_certificate


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("server is not listening")

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_server(
    app: FastAPI, settings: ProvisioningConfig, *, port: int | None = None, timeout: float = 15.0
) -> RunningServer:
    """Start HTTPS in a daemon thread; `port=0` picks a free port (tests)."""
    ensure_certificate(settings.tls_cert, settings.tls_key, settings.tls_hostnames)
    config = uvicorn.Config(
        app,
        host=settings.bind,
        port=settings.port if port is None else port,
        ssl_certfile=str(settings.tls_cert),
        ssl_keyfile=str(settings.tls_key),
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        limit_concurrency=settings.max_connections,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="menwei-provisioning", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"staff page did not start on {settings.bind}:{config.port}")
        time.sleep(0.05)
    return RunningServer(server, thread)
