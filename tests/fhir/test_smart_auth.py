"""SMART Backend Services against sekmet-fhir on 127.0.0.1, which requires its access tokens and enforces their
scopes (issue 16): push with an EC P-384 client (ES384), pull by Bulk $export with an RSA client (RS384,
downloads with the token, as the manifest requires); a key that is not the registered one, a read-only client
pushing, and no credentials at all are each a clear error with exit 2; no token or assertion is ever shown."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fhir_fixtures import assert_same
from test_pull import sdtm, to_sdtm
from test_push import fhir_of, records

from msc_interop.cli import main
from servers.fhir_servers import FlakyProxy, sekmet_server, tls_certificates

serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
asym = pytest.importorskip("cryptography.hazmat.primitives.asymmetric")


def _key_pair(folder: Path, name: str, kind: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = ec.generate_private_key(ec.SECP384R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("smart")
    keys = folder / "keys"
    keys.mkdir()
    _key_pair(keys, "loader", "ec")
    _key_pair(keys, "reader", "rsa")
    _key_pair(keys, "stranger", "rsa")  # never registered
    clients = {"loader": (keys / "loader.pub.pem", "system/*.cruds"),
               "reader": (keys / "reader.pub.pem", "system/*.rs")}
    with sekmet_server(folder, smart_clients=clients) as base:
        yield base, folder


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def _as(client: str, key: str, keys: Path) -> list[str]:
    return ["--smart-client-id", client, "--smart-key", str(keys / f"{key}.pem")]


def test_push_and_bulk_pull_with_backend_services(smart: tuple[str, Path], tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    base, folder = smart
    keys = folder / "keys"
    caplog.set_level(logging.DEBUG)
    path = records(tmp_path, "study", "SMART-STUDY")
    code, pushed = _run("push", str(fhir_of(tmp_path, path)), "--server", base, "--state-dir", str(tmp_path),
                        *_as("loader", "loader", keys))
    assert code == 0, pushed
    code, pulled = _run("pull", "--server", base, "--study", "SMART-STUDY", "-o", str(tmp_path / "pulled"),
                        "--state-dir", str(tmp_path), "--format", "json", "--no-define", "--bulk",
                        *_as("reader", "reader", keys))
    assert code == 0, pulled
    assert_same(to_sdtm(tmp_path, path), sdtm(tmp_path / "pulled" / "sdtm"))
    shown = pushed + pulled + caplog.text + (folder / "server.log").read_text(errors="replace")
    assert "eyJ" not in shown  # no JWT (assertion or access token) in any output or log


def test_wrong_key_read_only_client_and_no_credentials(smart: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = smart
    keys = folder / "keys"
    path = fhir_of(tmp_path, records(tmp_path, "study", "SMART-REFUSED"))
    code, out = _run("pull", "--server", base, "--study", "X", "-o", str(tmp_path / "o"),
                     "--state-dir", str(tmp_path), *_as("reader", "stranger", keys))
    assert code == 2 and "refused client 'reader'" in out and "invalid_client" in out, out
    assert "--smart-key is the private key of the public key registered" in out
    code, out = _run("push", str(path), "--server", base, "--state-dir", str(tmp_path),
                     *_as("reader", "reader", keys))  # asks for system/*.cruds: more than it may have
    assert code == 2 and "invalid_scope" in out and "--smart-scope 'system/*.cruds'" in out, out
    code, out = _run("push", str(path), "--server", base, "--state-dir", str(tmp_path),
                     *_as("reader", "reader", keys), "--smart-scope", "system/*.rs")  # a token, then a write
    assert code == 2 and "refused the credentials (403" in out, out
    code, out = _run("pull", "--server", base, "--study", "X", "-o", str(tmp_path / "o"),
                     "--state-dir", str(tmp_path))
    assert code == 2 and "refused the credentials (401" in out, out
    code, out = _run("pull", "--server", base, "--study", "X", "-o", str(tmp_path / "o"),
                     "--smart-client-id", "reader")
    assert code == 2 and "needs both --smart-client-id and --smart-key" in out, out
    (tmp_path / "bad.pem").write_text("not a key\n")
    code, out = _run("pull", "--server", base, "--study", "X", "-o", str(tmp_path / "o"),
                     "--smart-client-id", "reader", "--smart-key", str(tmp_path / "bad.pem"))
    assert code == 2 and "bad.pem: not a readable unencrypted PEM private key" in out, out
    assert "eyJ" not in out


def test_https_with_a_private_ca_needs_ca_bundle(smart: tuple[str, Path], tmp_path: Path) -> None:
    """TLS verification is on: a server whose certificate a private CA signed is refused (exit 2, at once,
    saying --ca-bundle) until that CA is given; then the same pull works over https."""
    import time

    base, folder = smart
    ca, cert, key = tls_certificates(tmp_path)
    with FlakyProxy(base, count=0, tls=(cert, key)) as proxy:
        args = ["pull", "--server", proxy.base, "--study", "X", "-o", str(tmp_path / "o"), "--state-dir",
                str(tmp_path), *_as("reader", "reader", folder / "keys")]
        started = time.monotonic()
        code, out = _run(*args)
        assert code == 2 and "TLS certificate is not trusted" in out and "--ca-bundle" in out, out
        assert time.monotonic() - started < 10  # not retried with backoff: asking again changes nothing
        code, out = _run(*args, "--ca-bundle", str(ca))
    assert code == 2 and "no resources of study X on the server" in out, out  # reached it over https
    (tmp_path / "junk.pem").write_text("junk\n")
    code, out = _run(*args, "--ca-bundle", str(tmp_path / "junk.pem"))
    assert code == 2 and "junk.pem: not a readable PEM file of CA certificates" in out, out
