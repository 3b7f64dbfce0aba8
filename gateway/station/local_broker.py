"""A throw-away local mosquitto with TLS, passwords and an ACL, for `menwei station bench` and the
tests: a CA and server certificate made with `cryptography`, a password file (mosquitto_passwd
when installed, else mosquitto 2's PBKDF2-SHA512 `$7$` format written here), on 127.0.0.1 only.
`kill()` (SIGKILL) / `terminate()` (SIGTERM, persistence saved) and `start()` restart it on the
same port. `config_lines` reads the setting lines of a mosquitto config file (for the tests that
run the shipped station config).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def issue_client_certificate(folder: Path, common_name: str) -> tuple[Path, Path]:
    """A client certificate (CN = the MQTT user) signed by the CA in `folder`."""
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{common_name}.pem", folder / f"{common_name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    return cert_path, key_path


def write_test_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key) paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    (folder / "ca.key").write_bytes(_pem_key(ca_key))
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("menwei test CA"))
        .issuer_name(_name("menwei test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    return ca_path, cert_path, key_path


def pbkdf2_line(user: str, password: str, iterations: int = 101) -> str:
    """mosquitto 2's `$7$` hash: PBKDF2-HMAC-SHA512, 12-byte salt, base64 parts."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{user}:$7${iterations}${salt_b64}${digest_b64}"


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        path.write_text("".join(pbkdf2_line(u, p) + "\n" for u, p in users.items()))
    else:
        path.touch()
        for user, password in users.items():
            subprocess.run([tool, "-b", str(path), user, password], check=True)
    path.chmod(0o600)


class LocalBroker:
    """mosquitto on 127.0.0.1:<free port> with TLS, the given users and ACL text."""

    def __init__(
        self,
        folder: Path,
        users: Mapping[str, str],
        acl: str,
        max_inflight: int = 100,
        delivery: Sequence[str] | None = None,
    ) -> None:
        """`delivery` replaces the persistence / queue / in-flight settings (e.g. the lines of
        docs/mosquitto-station.conf); the persistence folder is always this broker's own."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.client_cert_port = free_port()  # a second listener: client certificate required
        self.ca, cert, key = write_test_pki(folder)
        passwords, acl_file = folder / "passwd", folder / "acl"
        write_password_file(passwords, users)
        acl_file.write_text(acl)
        (folder / "data").mkdir(exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwords}",
            f"acl_file {acl_file}",
            *(
                [
                    "persistence true",
                    "autosave_interval 1",
                    "max_queued_messages 0",
                    f"max_inflight_messages {max_inflight}",  # also the MQTT 5 Receive Maximum
                ]
                if delivery is None
                else [line for line in delivery if not line.startswith("persistence_location")]
            ),
            f"persistence_location {folder / 'data'}/",
            "set_tcp_nodelay true",
            "user root" if os.geteuid() == 0 else "",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.ca}",
            f"certfile {cert}",
            f"keyfile {key}",
            f"listener {self.client_cert_port} 127.0.0.1",
            f"cafile {self.ca}",
            f"certfile {cert}",
            f"keyfile {key}",
            "require_certificate true",
            "use_identity_as_username true",
            "",
        ]
        self.config.write_text("\n".join(lines))

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("mosquitto did not start listening")

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing is acknowledged until resume()."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()


def config_lines(path: Path) -> list[str]:
    """The setting lines of a mosquitto config file (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]
