"""HTTPS for the API: `api.tls_cert` and `api.tls_key`, the daemon as a process."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.test_daemon_process import _genosd
from tests.servers import free_tcp_port


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genosd.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "api.crt", directory / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_the_api_speaks_https_with_the_configured_certificate(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    port = free_tcp_port()
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"api: {{port: {port}, tls_cert: {cert}, tls_key: {key}}}\n"
    )
    proc = _genosd(
        "run", "--config", str(tmp_path / "genosd.yaml"), env=dict(os.environ), cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"https://127.0.0.1:{port}/api/v1/health", verify=str(cert))
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "no HTTPS answer"
                time.sleep(0.3)
        assert health.json()["status"] == "ok"
        try:
            plain = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
            assert plain.status_code == 400  # plain HTTP to a TLS port is not served
        except httpx.TransportError:
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0
    assert f"listening on https://127.0.0.1:{port}" in output


def test_a_key_that_does_not_match_is_a_configuration_error(tmp_path: Path):
    cert, _ = _self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = _self_signed(other)
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\napi: {{tls_cert: {cert}, tls_key: {wrong_key}}}\n"
    )
    proc = _genosd(
        "check-config",
        "--config",
        str(tmp_path / "genosd.yaml"),
        env=dict(os.environ),
        cwd=tmp_path,
    )
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 78 and "cannot use api.tls_cert/api.tls_key" in output
