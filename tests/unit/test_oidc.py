"""The local OIDC signer: tokens verify with google-auth against certs served over real HTTP."""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import id_token

from tasksctl.engine.oidc import (
    FAKE_TOKEN_PREFIX,
    GOOGLE_ISSUER,
    KEY_FILE,
    SigningKeys,
    fake_access_token,
    register_routes,
    subject_for,
)
from tests.sink import ServerThread

SA = "tasks-invoker@test-project.iam.gserviceaccount.com"
AUDIENCE = "https://handler.example.com/tasks/run"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return SigningKeys.load_or_create(tmp_path_factory.mktemp("oidc"))


@pytest.fixture(scope="module")
def side_port(keys: SigningKeys) -> Iterator[ServerThread]:
    app = web.Application()
    register_routes(app, keys)
    with ServerThread(app) as server:
        yield server


def b64json(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_token_verifies_with_google_auth_and_right_audience(
    keys: SigningKeys, side_port: ServerThread
) -> None:
    token = keys.mint_id_token(SA, AUDIENCE, time.time())
    claims = id_token.verify_token(
        token, Request(), AUDIENCE, certs_url=side_port.url_for("/oauth2/v1/certs")
    )
    assert claims["iss"] == GOOGLE_ISSUER == "https://accounts.google.com"
    assert claims["aud"] == AUDIENCE
    assert claims["email"] == SA
    assert claims["email_verified"] is True
    assert claims["sub"] == claims["azp"] == subject_for(SA)
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 5
    header = b64json(token.split(".")[0])
    assert header == {"alg": "RS256", "kid": keys.kid, "typ": "JWT"}


def test_wrong_audience_is_rejected(keys: SigningKeys, side_port: ServerThread) -> None:
    token = keys.mint_id_token(SA, AUDIENCE, time.time())
    with pytest.raises(ValueError, match="audience"):
        id_token.verify_token(
            token,
            Request(),
            "https://other.example.com/",
            certs_url=side_port.url_for("/oauth2/v1/certs"),
        )


def test_expired_token_is_rejected(keys: SigningKeys, side_port: ServerThread) -> None:
    token = keys.mint_id_token(SA, AUDIENCE, time.time() - 7200)
    with pytest.raises(ValueError, match="expired"):
        id_token.verify_token(
            token, Request(), AUDIENCE, certs_url=side_port.url_for("/oauth2/v1/certs")
        )


def test_token_from_another_key_is_rejected(side_port: ServerThread) -> None:
    stranger = SigningKeys.generate()
    token = stranger.mint_id_token(SA, AUDIENCE, time.time())
    with pytest.raises((ValueError, auth_exceptions.GoogleAuthError)):
        id_token.verify_token(
            token, Request(), AUDIENCE, certs_url=side_port.url_for("/oauth2/v1/certs")
        )


def test_jwks_and_discovery_describe_the_same_key(
    keys: SigningKeys, side_port: ServerThread
) -> None:
    config = requests.get(side_port.url_for("/.well-known/openid-configuration"), timeout=5).json()
    assert config["issuer"] == GOOGLE_ISSUER
    assert config["jwks_uri"] == side_port.url_for("/oauth2/v3/certs")
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = requests.get(config["jwks_uri"], timeout=5).json()
    (jwk,) = jwks["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["kid"]) == ("RSA", "RS256", "sig", keys.kid)

    def as_int(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    public = rsa.RSAPublicNumbers(as_int(jwk["e"]), as_int(jwk["n"])).public_key()
    token = keys.mint_id_token(SA, AUDIENCE, time.time())
    signing_input, _, signature = token.rpartition(".")
    public.verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        signing_input.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )  # raises InvalidSignature on mismatch
    pem = requests.get(side_port.url_for("/oauth2/v1/certs"), timeout=5).json()
    assert list(pem) == [keys.kid]
    assert pem[keys.kid].startswith("-----BEGIN CERTIFICATE-----")


def test_key_is_created_once_with_private_mode_and_reloaded(tmp_path: Path) -> None:
    first = SigningKeys.load_or_create(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list((tmp_path / "data").iterdir()) == [path]  # no temp files left behind
    second = SigningKeys.load_or_create(tmp_path / "data")
    assert second.kid == first.kid
    assert second.pem_certs() == first.pem_certs()
    token = first.mint_id_token(SA, AUDIENCE, time.time())
    claims = id_token.verify_token(token, _StaticCerts(second.pem_certs()), AUDIENCE)
    assert claims["email"] == SA


class _StaticCerts:
    """A google-auth transport answering every GET with fixed JSON (for the reload test)."""

    def __init__(self, body: dict[str, str]) -> None:
        self.body = body

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        data = json.dumps(self.body).encode()
        return type("Response", (), {"status": 200, "data": data, "headers": {}})()


def test_cached_tokens_are_reused_until_close_to_expiry(keys: SigningKeys) -> None:
    now = 1_800_000_000.0
    first = keys.id_token(SA, AUDIENCE, now)
    assert keys.id_token(SA, AUDIENCE, now + 2999) == first
    assert keys.id_token(SA, AUDIENCE, now + 3001) != first  # under 10 minutes left
    assert keys.id_token(SA, "https://other/", now) != first
    assert keys.id_token(SA, AUDIENCE, now - 100) != first  # clock went back: fresh token


def test_subject_is_stable_and_numeric() -> None:
    sub = subject_for(SA)
    assert sub == subject_for(SA.upper())
    assert sub.isdigit() and len(sub) == 21
    assert sub != subject_for("someone-else@test-project.iam.gserviceaccount.com")


def test_fake_access_token_is_labelled_and_readable() -> None:
    token = fake_access_token(SA, "https://www.googleapis.com/auth/cloud-platform")
    assert token.startswith(FAKE_TOKEN_PREFIX)
    claims = b64json(token.removeprefix(FAKE_TOKEN_PREFIX))
    assert claims["email"] == SA
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert "not a real access token" in claims["note"]
    assert "=" not in token and " " not in token
