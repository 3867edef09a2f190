"""The engine's local OIDC signer: an RSA key in the data dir, ID tokens, JWKS/PEM certs.

Production Cloud Tasks attaches ``Authorization: Bearer <ID token>`` to tasks with ``oidc_token``;
the token is a Google-signed RS256 JWT. The engine cannot sign as Google, so it signs with its own
key and publishes the public half the way Google does, letting a handler verify the token with the
usual code, only pointed at the engine::

    google.oauth2.id_token.verify_token(token, google.auth.transport.requests.Request(),
                                        audience, certs_url="http://127.0.0.1:8124/oauth2/v1/certs")

Key: RSA 2048 created once with ``cryptography`` and stored as ``oidc-signing-key.pem`` (PKCS#8,
mode 0600) in the data dir; a second engine on the same dir loads the same key (creation is
race-free: the file is written aside and hard-linked into place). ``kid`` = first 40 hex digits of
SHA-256 over the DER public key, so it is stable for the key's lifetime. The X.509 certificate that
the PEM endpoint serves is self-signed and rebuilt deterministically from the key at load time.

Claims: ``iss`` ``https://accounts.google.com`` (what production tokens carry, and what
``verify_oauth2_token``-style issuer checks expect; ``verify_token`` itself checks only signature,
``iat``/``exp`` and ``aud``; callers may pass another ``issuer``), ``aud`` (the task's audience, by
default its URL: the dispatcher decides), ``azp`` and ``sub`` (a stable 21-digit id derived from the
e-mail, shaped like a service account's unique id), ``email``, ``email_verified`` true, ``iat`` and
``exp`` = ``iat`` + 1 h.

Endpoints (:func:`register_routes`), mirroring Google's: ``/.well-known/openid-configuration``,
``/oauth2/v3/certs`` (JWK Set) and ``/oauth2/v1/certs`` (``{kid: PEM certificate}``, the form that
google-auth's ``verify_token`` reads without the optional ``pyjwt``).

``oauth_token`` tasks get :func:`fake_access_token`: ``tasksctl-local-fake.`` + base64url JSON.
It is not a credential, is accepted by no Google API, and only tells a handler which service
account and scope the task asked for.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

KEY_FILE = "oidc-signing-key.pem"
GOOGLE_ISSUER = "https://accounts.google.com"
TOKEN_LIFETIME = 3600
# Reuse a cached token while it has at least this long to live (production tokens are reused
# too; minting costs an RSA signature, about a millisecond).
TOKEN_REUSE_MARGIN = 600
FAKE_TOKEN_PREFIX = "tasksctl-local-fake."
OPENID_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/oauth2/v3/certs"
PEM_CERTS_PATH = "/oauth2/v1/certs"
_CERT_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_CERT_NOT_AFTER = dt.datetime(2120, 1, 1, tzinfo=dt.UTC)
_MAX_CACHED_TOKENS = 4096
ID_TOKEN_CLAIMS = ("aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def subject_for(email: str) -> str:
    """A stable 21-digit numeric id for a service account e-mail (like Google's unique ids)."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).digest()
    return "1" + str(int.from_bytes(digest[:10], "big") % 10**20).zfill(20)


class SigningKeys:
    """The engine's RSA key with everything derived from it; mints and caches ID tokens."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._key = private_key
        public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(public_der).hexdigest()[:40]
        # google-auth ships without type hints.
        self._signer = crypt.RSASigner(private_key, key_id=self.kid)  # type: ignore[no-untyped-call]
        self._cert_pem = self._self_signed_cert()
        self._cache: dict[tuple[str, str, str], tuple[str, float]] = {}

    @classmethod
    def generate(cls) -> SigningKeys:
        """A fresh in-memory key (tests; the engine uses :meth:`load_or_create`)."""
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SigningKeys:
        """Load ``<data_dir>/oidc-signing-key.pem``, creating it (0600) on first use."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / KEY_FILE
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.{time.monotonic_ns()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
                try:
                    os.link(tmp, path)  # fails if another process won the race: use theirs
                except FileExistsError:
                    pass
            finally:
                tmp.unlink(missing_ok=True)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(loaded)

    def _self_signed_cert(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tasksctl-local-{self.kid}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(int(self.kid[:30], 16))
            .not_valid_before(_CERT_NOT_BEFORE)
            .not_valid_after(_CERT_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def mint_id_token(
        self,
        service_account_email: str,
        audience: str,
        now: float,
        issuer: str = GOOGLE_ISSUER,
        lifetime: int = TOKEN_LIFETIME,
    ) -> str:
        """A fresh RS256 ID token for ``service_account_email`` valid from ``now`` (epoch s)."""
        iat = int(now)
        sub = subject_for(service_account_email)
        payload = {
            "iss": issuer,
            "aud": audience,
            "azp": sub,
            "sub": sub,
            "email": service_account_email,
            "email_verified": True,
            "iat": iat,
            "exp": iat + lifetime,
        }
        encoded: bytes = jwt.encode(self._signer, payload)  # type: ignore[no-untyped-call]
        return encoded.decode("ascii")

    def id_token(
        self, service_account_email: str, audience: str, now: float, issuer: str = GOOGLE_ISSUER
    ) -> str:
        """Like :meth:`mint_id_token`, but reuses a token that still has 10+ minutes to live."""
        key = (service_account_email, audience, issuer)
        cached = self._cache.get(key)
        # The upper bound refuses a token minted "later" than now (a clock that went back).
        if cached is not None and TOKEN_REUSE_MARGIN <= cached[1] - now <= TOKEN_LIFETIME:
            return cached[0]
        token = self.mint_id_token(service_account_email, audience, now, issuer)
        if len(self._cache) >= _MAX_CACHED_TOKENS:
            self._cache.clear()
        self._cache[key] = (token, int(now) + TOKEN_LIFETIME)
        return token

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set (``/oauth2/v3/certs``)."""
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _int_b64url(numbers.n),
                    "e": _int_b64url(numbers.e),
                }
            ]
        }

    def pem_certs(self) -> dict[str, str]:
        """``{kid: PEM X.509 certificate}`` (``/oauth2/v1/certs``)."""
        return {self.kid: self._cert_pem.decode("ascii")}

    def openid_configuration(self, base_url: str, issuer: str = GOOGLE_ISSUER) -> dict[str, Any]:
        """An OpenID discovery document whose ``jwks_uri`` points at this engine."""
        base = base_url.rstrip("/")
        return {
            "issuer": issuer,
            "jwks_uri": base + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": list(ID_TOKEN_CLAIMS),
        }


def fake_access_token(service_account_email: str, scope: str) -> str:
    """A clearly fake OAuth access token for ``oauth_token`` tasks (valid nowhere)."""
    claims = {
        "email": service_account_email,
        "scope": scope or "https://www.googleapis.com/auth/cloud-platform",
        "note": "tasksctl local engine: not a real access token",
    }
    return FAKE_TOKEN_PREFIX + _b64url(json.dumps(claims, sort_keys=True).encode("utf-8"))


def register_routes(app: web.Application, keys: SigningKeys) -> None:
    """Add the discovery, JWKS and PEM-certificate routes to an ``aiohttp.web.Application``."""
    headers = {"Cache-Control": "public, max-age=300"}

    async def openid_configuration(request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        return web.json_response(keys.openid_configuration(base), headers=headers)

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(keys.jwks(), headers=headers)

    async def pem_certs(request: web.Request) -> web.Response:
        return web.json_response(keys.pem_certs(), headers=headers)

    app.router.add_get(OPENID_CONFIG_PATH, openid_configuration)
    app.router.add_get(JWKS_PATH, jwks)
    app.router.add_get(PEM_CERTS_PATH, pem_certs)
