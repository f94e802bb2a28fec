"""One FHIR server over HTTP: every request with a timeout, retried when the server says "later", logged
without secrets.

Why retries are safe here: push sends only PUT-by-id and DELETE-by-id (alone or inside a batch/transaction
Bundle), and pull only GETs, so repeating a request that may or may not have reached the server changes
nothing. A request that is not idempotent must not use `send` with retries (none in this package does).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from msc_interop.atomic import atomic_open
from msc_interop.errors import MscInteropError

log = logging.getLogger("msc_interop.server")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
FHIR_JSON = "application/fhir+json"


class ServerError(MscInteropError):
    """The server cannot be used: unreachable, refused our credentials, or kept saying "later" (exit 2)."""


@dataclass
class Response:
    status: int
    body: Any
    headers: httpx.Headers


@dataclass
class FhirClient:
    """A FHIR base URL with its credentials. `token` is sent as a bearer token and never printed or logged."""

    base: str
    token: str | None = None
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    max_wait: float = 60.0
    notes: list[str] = field(default_factory=list)
    sleep: Any = time.sleep
    smart: Any = None  # a server.smart.SmartBackend: access tokens by SMART Backend Services instead of `token`
    ca_bundle: Path | None = None  # PEM of the CAs to trust for TLS instead of the system's (verification stays on)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        headers = {"Accept": FHIR_JSON, "User-Agent": _user_agent()}
        self._http = httpx.Client(timeout=self.timeout, headers=headers, follow_redirects=False,
                                  verify=tls_context(self.ca_bundle))
        self.retried = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        if not path:
            return self.base
        return path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}"

    def send(self, method: str, path: str, body: Any = None, params: dict[str, str] | list[tuple[str, str]] | None
             = None, headers: dict[str, str] | None = None, resend_when_lost: bool = True) -> Response:
        """The server's answer to an idempotent request, after retrying 429/502/503/504 and lost connections
        (`retries` times, waiting Retry-After or an exponential backoff). 401/403 and a server that cannot be
        reached are a ServerError; other statuses are returned for the caller to judge. `resend_when_lost=False`
        for a request that starts something on the server (a Bulk export): a lost answer is an error then, not a
        reason to start it twice."""
        url = self.url(path)
        content = orjson.dumps(body) if body is not None else None
        sent = {**({"Content-Type": FHIR_JSON} if content is not None else {}), **(headers or {})} or None
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, url, content=content, params=params, headers=sent,
                                          **self._auth())
            except httpx.TransportError as exc:
                log.debug("%s %s: %s", method, url, type(exc).__name__)
                if attempt == self.retries or not resend_when_lost or _untrusted(exc):
                    raise ServerError(f"{self.base}: {method} {_path(url)} failed after {attempt + 1} attempt(s): "
                                      f"{_transport_text(exc)}") from None
                self._wait(attempt, None)
                continue
            log.debug("%s %s -> %s", method, url, resp.status_code)
            if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                self._wait(attempt, resp.headers.get("Retry-After"))
                continue
            if resp.status_code in RETRY_STATUSES:
                raise ServerError(f"{self.base}: {method} {_path(url)} answered {resp.status_code} "
                                  f"{resp.reason_phrase} {attempt + 1} time(s); giving up")
            if resp.status_code in (401, 403):
                if resp.status_code == 401 and self.smart is not None and self.smart.renew():
                    continue  # the access token expired meanwhile: one new token, the same request again
                raise ServerError(f"{self.base}: the server refused the credentials ({resp.status_code} "
                                  f"{resp.reason_phrase}{': ' + _outcome_text(_json(resp)) if resp.content else ''})"
                                  f"; check {self._credentials_hint()}")
            return Response(resp.status_code, _json(resp), resp.headers)
        raise AssertionError("unreachable")  # pragma: no cover

    def download(self, url: str, path: Path, with_token: bool, accept: str = "application/fhir+ndjson") -> int:
        """Stream `url` into `path` (never held in memory; written under a temporary name, then renamed);
        retried like `send`. The token goes along only when `with_token` (a Bulk manifest says whether its
        files need it: files on another host must not receive it). Returns the bytes written."""
        headers = {"Accept": accept}
        for attempt in range(self.retries + 1):
            try:
                with self._http.stream("GET", url, headers=headers, **(self._auth() if with_token else {})
                                       ) as resp:
                    if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                        self._wait(attempt, resp.headers.get("Retry-After"))
                        continue
                    if resp.status_code != 200:
                        resp.read()
                        raise ServerError(f"{self.base}: downloading {_path(url)} answered {resp.status_code} "
                                          f"{resp.reason_phrase}: {_outcome_text(_json(resp))}")
                    written = 0
                    with atomic_open(path, "wb") as fh:
                        for chunk in resp.iter_bytes(1 << 20):
                            fh.write(chunk)
                            written += len(chunk)
                    return written
            except httpx.TransportError as exc:
                if attempt == self.retries or _untrusted(exc):
                    raise ServerError(f"{self.base}: downloading {_path(url)} failed after {attempt + 1} "
                                      f"attempt(s): {_transport_text(exc)}") from None
                self._wait(attempt, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _auth(self) -> dict[str, Any]:
        """The Authorization of a request: the bearer token, or a SMART access token (fetched when first needed,
        renewed on expiry); set per request so that a download that must not receive it goes without."""
        if self.smart is not None:
            return {"auth": _Bearer(self.smart.token(self._http, self.base))}
        return {"auth": _Bearer(self.token)} if self.token else {}

    def _credentials_hint(self) -> str:
        return ("--smart-client-id / --smart-key and the client's registration" if self.smart is not None
                else "--token-file or MSC_INTEROP_TOKEN")

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        self.retried += 1
        self.sleep(min(self.max_wait, _retry_after(retry_after) if retry_after else self.backoff * 2 ** attempt))

    def search(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every resource of a search, page after page: the `next` link of each searchset; a server that gives
        `total` but no `next` link is paged with `_offset` (and a note says so)."""
        resp = self.send("GET", path, params=params)
        got = 0
        while True:
            page = resp.body
            if resp.status != 200 or not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                raise ServerError(f"{self.base}: search {path} answered {resp.status}: {_outcome_text(page)}")
            entries = [e["resource"] for e in page.get("entry") or [] if isinstance(e, dict)
                       and isinstance(e.get("resource"), dict)
                       and (e.get("search") or {}).get("mode", "match") == "match"]
            yield from entries
            got += len(entries)
            nxt = next((ln.get("url") for ln in page.get("link") or [] if ln.get("relation") == "next"), None)
            if nxt:
                resp = self.send("GET", urljoin(self.base + "/", nxt))
                continue
            total = page.get("total")
            if isinstance(total, int) and got < total and entries:
                note = f"{self.base} gave no `next` link on a search of {total} results: paged with _offset"
                if note not in self.notes:
                    self.notes.append(note)
                resp = self.send("GET", path, params={**params, "_offset": str(got)})
                continue
            return


class _Bearer(httpx.Auth):
    """A bearer token set per request (an access token may be renewed during a run)."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _json(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return resp.text[:500]


def _retry_after(value: str) -> float:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 1.0  # a header neither form: wait a little rather than not at all
    return max(0.0, when.timestamp() - time.time())


def _path(url: str) -> str:
    return httpx.URL(url).raw_path.decode("ascii", "replace")


def tls_context(ca_bundle: Path | None) -> Any:
    """TLS verification always on: the system's trust store (httpx's default), or the CAs of --ca-bundle (a
    hospital's own CA); a bundle that cannot be read is an input error naming the file."""
    if ca_bundle is None:
        return True
    import ssl

    try:
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ServerError(f"{ca_bundle}: not a readable PEM file of CA certificates ({exc})") from None


def _untrusted(exc: httpx.TransportError) -> bool:
    """A certificate the client does not trust: asking again will not change it."""
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _transport_text(exc: httpx.TransportError) -> str:
    if _untrusted(exc):
        return ("the server's TLS certificate is not trusted (" + str(exc).split("] ", 1)[-1] + "): give the CA "
                "that signed it with --ca-bundle FILE (PEM)")
    kind = {"ConnectError": "cannot connect", "ConnectTimeout": "connection timed out",
            "ReadTimeout": "no answer within the timeout", "RemoteProtocolError": "the connection was closed"}
    return f"{kind.get(type(exc).__name__, type(exc).__name__)} ({exc})"


def _outcome_text(body: Any) -> str:
    """The diagnostics of an OperationOutcome in one line (else the body's start)."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        parts = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "")
                 for i in body.get("issue") or [] if isinstance(i, dict)]
        return "; ".join(p for p in parts if p) or "OperationOutcome without text"
    return str(body)[:300]


outcome_text = _outcome_text
transport_text = _transport_text
retry_after_seconds = _retry_after


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"msc-interop/{version('msc-interop')}"
    except PackageNotFoundError:  # pragma: no cover
        return "msc-interop"
