"""Real FHIR servers on 127.0.0.1 for the push / pull tests, and a real HTTP proxy that answers "later".

sekmet-fhir (PyPI, FastAPI + SQLite, validates what it stores) runs as a subprocess of this Python;
Medplum's FHIR router (npm, in-memory repository) runs under node from tests/servers/medplum (`npm ci` there;
.ci/run does it). Each `*_server` context manager starts one on a free port with an empty store and yields
its FHIR base URL. Nothing is mocked: the tool talks HTTP to these processes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

MEDPLUM_DIR = Path(__file__).resolve().parent / "medplum"
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, method: str = "GET", body: Any = None, token: str | None = None,
            timeout: float = 60) -> tuple[int, Any]:
    """(status, parsed JSON) of one request, for the tests' own look at the server."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"null")
        except ValueError:
            return exc.code, raw.decode("utf-8", "replace")


def search_all(base: str, query: str, token: str | None = None) -> list[dict[str, Any]]:
    """Every resource of a search (following `next`, else `_offset` when the server gives only `total`)."""
    out: list[dict[str, Any]] = []
    sep = "&" if "?" in query else "?"
    url = f"{base}/{query}{sep}_count=1000"
    while True:
        status, page = request(url, token=token)
        assert status == 200, page
        got = [e["resource"] for e in page.get("entry") or []]
        out += got
        nxt = next((ln["url"] for ln in page.get("link") or [] if ln.get("relation") == "next"), None)
        if nxt:
            url = nxt
        elif got and isinstance(page.get("total"), int) and len(out) < page["total"]:
            url = f"{base}/{query}{sep}_count=1000&_offset={len(out)}"
        else:
            return out


def _wait_up(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the FHIR server stopped at start-up:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers (an auth-protected endpoint says 401)
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the FHIR server did not answer within {STARTUP_SECONDS} s")
        time.sleep(0.2)


@contextlib.contextmanager
def _running(cmd: list[str], cwd: Path, probe: str) -> Iterator[None]:
    log_path = cwd / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_up(proc, probe, log_path)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@contextlib.contextmanager
def sekmet_server(folder: Path, tokens: list[str] | None = None,
                  smart_clients: dict[str, tuple[Path, str]] | None = None) -> Iterator[str]:
    """sekmet-fhir with an empty store; yields the base URL. Bearer `tokens` required when given; with
    `smart_clients` (client id -> (public key PEM, scopes it may have)) it requires SMART Backend Services
    access tokens from its token endpoint (scopes enforced)."""
    pytest.importorskip("sekmet", reason="the loopback FHIR server sekmet-fhir is not installed "
                                         "(pip install 'sekmet-fhir==0.1.1')")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    settings: dict[str, Any] = {
        "base_url": base, "host": "127.0.0.1", "port": port, "data_dir": str(folder / "data"),
        "simulator": {"enabled": False}, "validation": {"inbound": "strict"}, "log_inbound": False}
    if tokens:
        settings["server_auth"] = {"types": ["bearer"], "tokens": tokens}
    if smart_clients:
        settings["server_auth"] = {"types": ["smart"], "enforce_scopes": True, "smart_clients": [
            {"client_id": cid, "public_key_path": str(key), "scopes": scopes}
            for cid, (key, scopes) in smart_clients.items()]}
    (folder / "settings.yaml").write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
    with _running([sys.executable, "-m", "sekmet.cli", "serve", "--config", str(folder / "settings.yaml"),
                   "--host", "127.0.0.1", "--port", str(port)], folder, f"{base}/metadata"):
        yield base


def medplum_available() -> str | None:
    """Why Medplum cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (.ci/run installs it from Debian: apt-get install nodejs npm)"
    if not (MEDPLUM_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return f"Medplum's packages are not installed: run `npm ci` in {MEDPLUM_DIR}"
    return None


@contextlib.contextmanager
def medplum_server(folder: Path) -> Iterator[str]:
    """Medplum's FHIR router over an in-memory repository (transactions as its server runs them: at most 50
    updates per transaction); yields the base URL."""
    reason = medplum_available()
    if reason:
        pytest.skip(reason)
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir/R4"
    with _running(["node", str(MEDPLUM_DIR / "server.cjs"), str(port)], folder, f"{base}/Patient?_count=1"):
        yield base


@contextlib.contextmanager
def server(kind: str, folder: Path) -> Iterator[str]:
    with (sekmet_server(folder) if kind == "sekmet" else medplum_server(folder)) as base:
        yield base


class FlakyProxy:
    """A real HTTP proxy in front of `upstream` that answers `status` (with Retry-After: `retry_after`) to
    requests number `first`..`first + count - 1` (1-based; count None: to every request from `first` on),
    and forwards every other request as it is. `seen` counts the requests."""

    def __init__(self, upstream: str, status: int = 503, first: int = 1, count: int | None = 3,
                 retry_after: str | None = "1", tls: tuple[Path, Path] | None = None):
        self.upstream = upstream.rstrip("/")
        self.status, self.first, self.count, self.retry_after = status, first, count, retry_after
        self.seen = 0
        self.refused = 0
        self.authorization: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.seen += 1
                    n = proxy.seen
                    if self.headers.get("Authorization"):
                        proxy.authorization.append(self.headers["Authorization"])
                refuse = n >= proxy.first and (proxy.count is None or n < proxy.first + proxy.count)
                if refuse:
                    with proxy._lock:
                        proxy.refused += 1
                    payload = json.dumps({"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "transient", "diagnostics": "busy, try later"}]}).encode()
                    self.send_response(proxy.status)
                    if proxy.retry_after is not None:
                        self.send_header("Retry-After", proxy.retry_after)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                status, headers, payload = proxy._forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # https with this certificate chain and key (tls_certificates)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._prefix = urllib.parse.urlsplit(self.upstream).path
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}{self._prefix}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body or None, headers=keep)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def tls_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it signed for 127.0.0.1 (as a hospital's own CA would): (CA PEM,
    server certificate PEM, server key PEM)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msc-interop test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths
