"""A login flood as an attacker on the building LAN would send it, from its own process.

python -m gateway.bench.flood_client URL THREADS SOURCES

Each thread posts bad logins for invented account names to URL/api/v1/session over HTTPS,
spreading them over SOURCES loopback addresses (127.0.0.2, 127.0.0.3, ...: one per LAN host the
attacker controls), and keeps going until its standard input closes. It then prints one JSON
line: responses by HTTP status, transport errors, and the seconds it ran. Running apart from the
gateway keeps the client's own CPU and GIL out of the measured process.
"""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def source_addresses(count: int) -> list[str]:
    """127.0.0.2 onwards (Linux routes all of 127.0.0.0/8 to the loopback interface)."""
    return [f"127.0.{(2 + i) // 256}.{(2 + i) % 256}" for i in range(count)]


def _post(connection: http.client.HTTPSConnection, body: bytes) -> str:
    connection.request(
        "POST", "/api/v1/session", body, {"content-type": "application/json", "accept": "*/*"}
    )
    response = connection.getresponse()
    response.read()
    return str(response.status)


def _flood(
    url: str, sources: list[str], stop: threading.Event, counts: Counter[str], lock: threading.Lock
) -> None:
    parts = urlsplit(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the gateway's self-signed certificate
    connections: dict[str, http.client.HTTPSConnection] = {}

    def connect(source: str) -> http.client.HTTPSConnection:
        connection = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1",
            parts.port,
            timeout=60.0,
            context=context,
            source_address=(source, 0),
        )
        connections[source] = connection
        return connection

    index = 0
    try:
        while not stop.is_set():
            source = sources[index % len(sources)]
            index += 1
            guess = {"username": f"guess-{secrets.token_hex(4)}", "password": "Wrong-Guess-123"}
            body = json.dumps(guess).encode()
            reused = source in connections
            try:
                try:
                    outcome = _post(connections.get(source) or connect(source), body)
                except (OSError, http.client.HTTPException):
                    if not reused:
                        raise
                    connections.pop(source).close()  # idle keep-alive closed by the server
                    outcome = _post(connect(source), body)
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
                dropped = connections.pop(source, None)
                if dropped is not None:
                    dropped.close()
            with lock:
                counts[outcome] += 1
    finally:
        for connection in connections.values():
            connection.close()


def main(argv: list[str]) -> int:
    url, threads, source_count = argv[0], int(argv[1]), int(argv[2])
    sources = source_addresses(source_count)
    stop = threading.Event()
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    workers = [
        threading.Thread(
            target=_flood, args=(url, sources[k::threads] or sources, stop, counts, lock)
        )
        for k in range(threads)
    ]
    begin = time.monotonic()
    for worker in workers:
        worker.start()
    print("flooding", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    stop.set()
    for worker in workers:
        worker.join(90)
    print(json.dumps({"responses": dict(counts), "seconds": time.monotonic() - begin}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
