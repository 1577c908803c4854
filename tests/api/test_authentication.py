"""Signing in with tokens from an identity provider (OIDC), over HTTP.

A small JWKS server runs inside the test on 127.0.0.1, publishing RSA and EC public
keys; tokens are signed with the matching private keys, as a provider would sign them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from graphql_client import GraphQLClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from api.app import create_app
from api.auth import AUDIENCE, mint_token
from cases.clock import FixedClock
from tequio.settings import Settings

ISSUER = "https://sso.iztapalapa.example/realms/tequio"
CLIENT = "tequio-api"
ADD_TERRITORY = """mutation($id: ID!, $n: String!) {
  addTerritory(id: $id, name: $n, kind: "colonia") { id name } }"""
TERRITORIES = "{ territories { id } }"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Provider:
    """The identity provider's side: key pairs, the published key set, and its hits."""

    def __init__(self, private: dict[str, Any]) -> None:
        self.private = private
        self.published: list[dict[str, Any]] = []
        self.hits = 0
        self.down = False
        self.lock = threading.Lock()

    def publish(self, kid: str) -> None:
        key = self.private[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            algorithm = "RS256"
        else:
            jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            algorithm = "ES256"
        with self.lock:
            self.published.append({**jwk, "kid": kid, "use": "sig", "alg": algorithm})

    def token(
        self,
        kid: str = "key-1",
        *,
        sub: str = "admin.sistema",
        algorithm: str = "RS256",
        signing_kid: str | None = None,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["offline_access", "admin", "uma_authorization"]},
            **overrides,
        }
        key = self.private[signing_kid or kid]
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """Key pairs are slow to make: one set for the module."""
    rsa_keys = {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("key-1", "key-2", "intruder")
    }
    return {**rsa_keys, "ec-1": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture
def provider(keys: dict[str, Any]) -> Iterator[tuple[Provider, str]]:
    """A fresh provider (publishing key-1 and ec-1) and the URL of its key set."""
    state = Provider(keys)
    state.publish("key-1")
    state.publish("ec-1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.hits += 1
                body = json.dumps({"keys": state.published}).encode()
                down = state.down
            self.send_response(503 if down else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/protocol/openid-connect/certs"
    finally:
        server.shutdown()
        server.server_close()


def oidc(settings: Settings, jwks_url: str, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "oidc_jwks_url": jwks_url,
            "oidc_issuer": ISSUER,
            "oidc_audience": CLIENT,
            "oidc_roles_claim": "realm_access.roles",
            **more,
        }
    )


@asynccontextmanager
async def serve(
    settings: Settings, clock: FixedClock, monotonic: FakeTime | None = None
) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, clock=clock, monotonic=monotonic or FakeTime())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tequio.test") as http:
            yield GraphQLClient(http, settings)


async def add_territory(api: GraphQLClient, token: str, tid: str) -> httpx.Response:
    return await api.post(ADD_TERRITORY, {"id": tid, "n": f"Colonia {tid}"}, token=token)


def refusal(response: httpx.Response, status: int = 401) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    return str(body["errors"][0]["message"])


# -- signing in ------------------------------------------------------------------------------


async def test_a_providers_token_signs_an_admin_in(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    async with serve(oidc(settings, url), clock) as api:
        response = await add_territory(api, idp.token(), "smt-avisadero")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["addTerritory"]["id"] == "smt-avisadero"
        # An EC key (ES256) is accepted as well.
        ec_token = idp.token("ec-1", algorithm="ES256", sub="admin.dos")
        assert (await add_territory(api, ec_token, "smt-mercado")).status_code == 200
        # The provider's own roles are ignored: with no Tequio role the caller may read
        # but not write.
        reader = idp.token(realm_access={"roles": ["offline_access"]}, sub="lectora")
        assert (await api.run(TERRITORIES, token=reader))["territories"]
        forbidden = (await add_territory(api, reader, "x")).json()["errors"][0]
        assert forbidden["extensions"]["code"] == "FORBIDDEN"


async def test_claims_are_read_where_the_settings_say(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    """Azure AD style: roles in ``roles``, the agency under a URL-named claim."""
    idp, url = provider
    mapped = oidc(
        settings,
        url,
        oidc_roles_claim="roles",
        oidc_agency_claim="https://tequio.example/agency",
    )
    async with serve(mapped, clock) as api:
        staff = idp.token(
            sub="staff.urbanos",
            roles=["agency_staff"],
            **{"https://tequio.example/agency": "servicios-urbanos"},
        )
        # agency_staff may not add territories, but it is signed in as itself.
        error = (await add_territory(api, staff, "x")).json()["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        other_town = idp.token(roles=["admin"], municipality="tlalpan")
        assert "another municipality" in refusal(await add_territory(api, other_town, "x"))


async def test_bad_provider_tokens_are_401_with_the_reason_and_change_nothing(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    now = int(time.time())
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": CLIENT, "sub": "x", "exp": now + 300, "roles": ["admin"]},
        key=None,
        algorithm="none",
    )
    cases = {
        "it has expired": idp.token(exp=now - 120, iat=now - 600),
        "it was issued by an identity provider this server does not trust": idp.token(
            iss="https://sso.example.org/realms/other"
        ),
        "it was issued for another service": idp.token(aud="another-client"),
        "its signature is not ours": idp.token("key-1", signing_kid="intruder"),
        "it is signed with a key the identity provider does not publish": idp.token("intruder"),
        "it is signed with an algorithm this server does not accept": unsigned,
        "it is not valid yet": idp.token(nbf=now + 600),
        "it is malformed": idp.token(sub=None),
    }
    async with serve(oidc(settings, url), clock) as api:
        for reason, token in cases.items():
            message = refusal(await add_territory(api, token, "x"))
            assert message == f"The bearer token is not valid: {reason}.", message
        spanish = await api.post(TERRITORIES, token=cases["it has expired"], language="es-MX")
        assert refusal(spanish) == "El token de acceso no es válido: ya expiró."
        assert (await api.run(TERRITORIES))["territories"] == []


async def test_development_tokens_are_refused_in_production_once_oidc_is_on(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    development = mint_token(
        settings.secret.get_secret_value(),
        subject="admin.sistema",
        roles=["admin"],
        municipality=settings.municipality,
    )
    async with serve(oidc(settings, url), clock) as api:
        # In development both kinds are accepted, so tests and demos keep working.
        assert (await add_territory(api, development, "dev")).status_code == 200
    production = oidc(settings, url, environment="production")
    async with serve(production, clock) as api:
        message = refusal(await add_territory(api, development, "prod"))
        assert message == (
            "The bearer token is not valid: development tokens are not accepted in "
            "production; sign in with the identity provider."
        )
        es = await api.post(TERRITORIES, token=development, language="es-MX")
        assert "los tokens de desarrollo no se aceptan en producción" in refusal(es)
        assert (await add_territory(api, idp.token(), "prod")).status_code == 200
        assert {t["id"] for t in (await api.run(TERRITORIES))["territories"]} == {"dev", "prod"}


# -- the provider's keys -----------------------------------------------------------------------


async def test_the_key_set_is_cached_and_fetched_again_when_it_expires(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    time_ = FakeTime()
    async with serve(oidc(settings, url, oidc_jwks_cache_seconds=300), clock, time_) as api:
        token = idp.token()
        for _ in range(5):
            await api.run(TERRITORIES, token=token)
        assert idp.hits == 1
        # Tokens not seen before: a verified token is trusted until it expires.
        time_.advance(299)
        await api.run(TERRITORIES, token=idp.token(jti="second"))
        assert idp.hits == 1
        time_.advance(2)
        await api.run(TERRITORIES, token=idp.token(jti="third"))
        assert idp.hits == 2


async def test_a_rotated_key_is_picked_up_without_hammering_the_provider(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    time_ = FakeTime()
    async with serve(oidc(settings, url), clock, time_) as api:
        await api.run(TERRITORIES, token=idp.token("key-1"))
        assert idp.hits == 1
        # The provider starts publishing key-2 just after our fetch. Until the cooldown
        # after that fetch has passed, tokens naming it are refused without a new fetch.
        idp.publish("key-2")
        time_.advance(1)
        token = idp.token("key-2")
        assert "does not publish" in refusal(await api.post(TERRITORIES, token=token))
        assert idp.hits == 1
        time_.advance(10)
        await api.run(TERRITORIES, token=token)
        assert idp.hits == 2
        for kid in ("key-1", "key-2", "key-1"):
            await api.run(TERRITORIES, token=idp.token(kid))
        # Made-up key ids cause at most one fetch per cooldown, however many arrive.
        time_.advance(10)
        for kid in ("made-up-1", "made-up-2", "made-up-3"):
            token = idp.token(kid, signing_kid="intruder")
            assert "does not publish" in refusal(await api.post(TERRITORIES, token=token))
        assert idp.hits == 3


async def test_an_unreachable_provider_is_503_and_cached_keys_outlive_an_outage(
    settings: Settings, clock: FixedClock, provider: tuple[Provider, str]
) -> None:
    idp, url = provider
    time_ = FakeTime()
    token = idp.token()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/certs"
    async with serve(oidc(settings, closed), clock, time_) as api:
        response = await api.post(TERRITORIES, token=token, language="es-MX")
        message = refusal(response, status=503)
        assert response.headers["retry-after"]
        assert message.startswith("Su token no puede verificarse en este momento")
        response = await api.post(TERRITORIES, token=token)
        assert refusal(response, status=503).startswith("Your token cannot be checked right now")

    async with serve(oidc(settings, url, oidc_jwks_cache_seconds=60), clock, time_) as api:
        await api.run(TERRITORIES, token=token)
        idp.down = True
        time_.advance(120)
        # The provider fails, but the keys fetched before still prove who signed
        # (new tokens: one already verified is trusted until it expires).
        await api.run(TERRITORIES, token=idp.token(jti="during-1"))
        await api.run(TERRITORIES, token=idp.token(jti="during-2"))
        assert idp.hits == 2  # one failed try, not one per request


# -- development tokens (what tests/api/test_api_errors.py does not already cover) -----------


async def test_a_development_token_for_another_audience_is_refused(
    settings: Settings, clock: FixedClock
) -> None:
    secret = settings.secret.get_secret_value()
    now = int(time.time())
    claims = {"iss": "tequio", "sub": "rosa", "exp": now + 60, "roles": ["admin"]}
    async with serve(settings, clock) as api:
        foreign = jwt.encode({**claims, "aud": "another-service"}, secret, algorithm="HS256")
        message = refusal(await add_territory(api, foreign, "x"))
        assert message == "The bearer token is not valid: it was issued for another service."
        ours = jwt.encode({**claims, "aud": AUDIENCE}, secret, algorithm="HS256")
        assert (await add_territory(api, ours, "x")).status_code == 200
