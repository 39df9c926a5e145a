"""Throwaway TLS servers for the tests: a CA and a server certificate for 127.0.0.1/localhost made with
`cryptography`, Redis 7 with `--tls-port`, and a PostgreSQL 15 cluster with `ssl = on` that refuses
plain connections. Each is skipped (with the reason) where this machine's packages cannot run it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storage.embedded import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certs(directory: Path, common: str = "perpvol test CA") -> Certs:
    """A CA and a server certificate signed by it, valid for 127.0.0.1 and localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
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
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certs(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    certs.key.chmod(0o600)
    return certs


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, seconds: float = 20) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


def redis_tls_available() -> str | None:
    """None when redis-server can serve TLS here, else why not."""
    server = shutil.which("redis-server")
    if server is None:
        return "redis-server is not installed"
    ldd = subprocess.run(["ldd", server], capture_output=True, text=True).stdout
    return None if "libssl" in ldd else "redis-server was built without TLS"


def start_redis_tls(certs: Certs, password: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(certs.cert),
            "--tls-key-file",
            str(certs.key),
            "--tls-ca-cert-file",
            str(certs.ca),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_port(port, proc, "redis-server --tls-port")
    return proc, port


def postgres_tls_available() -> str | None:
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL binaries in {PG_BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run initdb as"
    return None


def _as_server_user(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: use the distribution's postgres user then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def start_postgres_tls(certs: Certs) -> tuple[Path, int]:
    """A cluster in a new directory under /tmp on a free port that accepts TLS connections only (trust
    auth). Not under pytest's temp tree: that is private to root, and the server runs as postgres."""
    directory = Path(tempfile.mkdtemp(prefix="perpvol-pgtls-"))
    data = directory / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        directory.chmod(0o700)
    subprocess.run(
        _as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    for name, source in (("server.crt", certs.cert), ("server.key", certs.key)):
        target = data / name
        shutil.copy(source, target)
        target.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(target, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nssl = on\nunix_socket_directories = ''\n")
    # TLS or nothing: a plain connection is rejected, so a passing test proves the client used TLS.
    (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n")
    subprocess.run(
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    return data, port


def stop_postgres(data: Path) -> None:
    subprocess.run(
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        capture_output=True,
    )
    shutil.rmtree(data.parent, ignore_errors=True)
