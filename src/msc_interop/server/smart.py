"""SMART Backend Services (SMART App Launch 2.x, "client-confidential-asymmetric"): a system client proves who it
is with a short JWT signed by its private key and receives an access token, with no user and no shared secret.

The steps (https://hl7.org/fhir/smart-app-launch/backend-services.html):
1. the token endpoint from `[base]/.well-known/smart-configuration` (or --smart-token-url);
2. a client assertion: JWT with iss = sub = client_id, aud = the token endpoint, exp <= 5 minutes ahead, a unique
   jti, signed RS384 (RSA key) or ES384 (EC P-384 key); `kid` when the client was registered by JWKS with one;
3. POST grant_type=client_credentials, scope, client_assertion_type=...jwt-bearer, client_assertion;
4. the access token is used as a bearer token until shortly before `expires_in`, then fetched again.
Neither the assertion nor the access token is ever printed or logged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from msc_interop.errors import InputError
from msc_interop.server.client import ServerError, transport_text

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; the specification allows at most five minutes
RENEW_MARGIN = 30  # seconds before expiry at which a new access token is fetched


class SmartError(ServerError):
    """The token endpoint refused the client, or could not be found (the command exits 2 with this text)."""


@dataclass
class SmartBackend:
    """A registered backend client: its id, private key file (PEM), the scopes asked for and, when known, the
    token endpoint (else discovered from the server)."""

    client_id: str
    key_path: Path
    scope: str
    token_url: str | None = None
    kid: str | None = None
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0

    def token(self, http: httpx.Client, base: str) -> str:
        """A valid access token: the one held, else a new one."""
        if self._token is None or time.time() >= self._expires - RENEW_MARGIN:
            self._token, lifetime = self._fetch(http, base)
            self._expires = time.time() + lifetime
        return self._token

    def renew(self) -> bool:
        """Forget the held token so that the next request fetches one (after a 401); False if none was held
        (a fresh token refused: asking again would not help)."""
        if self._token is None or self._expires == 0.0:
            return False
        self._token, self._expires = None, 0.0
        return True

    def _fetch(self, http: httpx.Client, base: str) -> tuple[str, float]:
        url = self.token_url or discover_token_url(http, base)
        form = {"grant_type": "client_credentials", "scope": self.scope,
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": self._assertion(url)}
        try:
            resp = http.post(url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise SmartError(f"SMART token endpoint {url}: {transport_text(exc)}") from None
        body = _json(resp)
        if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            why = (f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")
                   if isinstance(body, dict) else str(body)[:200])
            raise SmartError(f"SMART token endpoint {url} refused client {self.client_id!r} "
                             f"({resp.status_code}{': ' + why if why else ''}); check --smart-client-id, that "
                             f"--smart-key is the private key of the public key registered for it, and "
                             f"--smart-scope {self.scope!r}")
        lifetime = body.get("expires_in")
        return body["access_token"], float(lifetime) if isinstance(lifetime, int | float) else 300.0

    def _assertion(self, token_url: str) -> str:
        import jwt

        key = load_private_key(self.key_path)
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": token_url, "iat": now,
                  "exp": now + ASSERTION_LIFETIME, "jti": uuid.uuid4().hex}
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, key, algorithm=signing_algorithm(key), headers=headers)


def discover_token_url(http: httpx.Client, base: str) -> str:
    """The token endpoint a FHIR server advertises in its SMART configuration."""
    url = f"{base.rstrip('/')}/.well-known/smart-configuration"
    try:
        resp = http.get(url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise SmartError(f"{url}: {transport_text(exc)}") from None
    body = _json(resp)
    if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("token_endpoint"), str):
        raise SmartError(f"{url} answered {resp.status_code} without a token_endpoint: the server does not "
                         "advertise SMART Backend Services; give --smart-token-url")
    return body["token_endpoint"]


def load_private_key(path: Path) -> Any:
    """The client's private key from a PEM file (PKCS#8 or traditional; RSA or EC, unencrypted)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable unencrypted PEM private key ({type(exc).__name__})") from None


def signing_algorithm(key: Any) -> str:
    """RS384 for an RSA key, ES384 for an EC P-384 key (the two SMART servers must support); ES256 for P-256."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256" if key.curve.name == "secp256r1" else "ES384"
    raise InputError(f"--smart-key: a {type(key).__name__} cannot sign a SMART client assertion (RSA or EC)")


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:200]
