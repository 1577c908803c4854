"""Tokens from an OpenID Connect provider, checked against its published keys (JWKS).

The key set is fetched with pyjwt's :class:`~jwt.PyJWKClient` and kept here for
``TEQUIO_OIDC_JWKS_CACHE_SECONDS``. A token naming a key the cached set lacks
(the provider rotated its keys) refreshes the set, at most once every
:data:`REFRESH_COOLDOWN_SECONDS`, so tokens with made-up key ids cannot make the
server hammer the provider. Fetching is blocking I/O: :meth:`OidcVerifier.verify`
must run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from api.auth import Caller, InvalidToken, KeysUnavailable, Role, token_subject
from tequio.settings import Settings

log = logging.getLogger("tequio.auth")

# Minimum seconds between two fetches caused by an unknown key id.
REFRESH_COOLDOWN_SECONDS = 10.0
# After a failed fetch with nothing cached, callers are told "unavailable" at once for
# this long instead of each waiting for the provider's timeout.
FAILURE_BACKOFF_SECONDS = 5.0
FETCH_TIMEOUT_SECONDS = 5.0
# Clocks of the provider and of this server may differ by this much.
LEEWAY_SECONDS = 30


class OidcVerifier:
    def __init__(self, settings: Settings, *, monotonic: Callable[[], float]) -> None:
        if not (settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience):
            raise ValueError("OIDC needs TEQUIO_OIDC_JWKS_URL, _ISSUER and _AUDIENCE")
        self._settings = settings
        self._issuer = settings.oidc_issuer
        self._audience = settings.oidc_audience
        self._algorithms = frozenset(settings.oidc_algorithms)
        self._lifespan = float(settings.oidc_jwks_cache_seconds)
        # Our own cache (not the client's) so that one injectable clock decides expiry
        # and cooldown, and so that a provider outage keeps the last good keys in use.
        self._client = PyJWKClient(
            settings.oidc_jwks_url,
            cache_jwk_set=False,
            timeout=FETCH_TIMEOUT_SECONDS,
        )
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: list[PyJWK] | None = None
        self._expires_at = 0.0
        self._cooldown_until = 0.0
        self._failed_until = 0.0

    def verify(self, token: str, header: Mapping[str, Any]) -> Caller:
        """Checks the signature, expiry, issuer and audience; maps the claims to a caller."""
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise InvalidToken("algorithm")
        key = self._signing_key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[str(algorithm)],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("signature") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("issuer") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("not_yet_valid") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("algorithm") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidToken("malformed") from None
        return caller_from_claims(claims, self._settings)

    def _signing_key(self, kid: object) -> PyJWK:
        with self._lock:
            now = self._monotonic()
            keys = self._current_keys(now, refresh=False)
            key = _match(keys, kid)
            if key is None and now >= self._cooldown_until:
                key = _match(self._current_keys(now, refresh=True), kid)
            if key is None:
                raise InvalidToken("unknown_key")
            return key

    def _current_keys(self, now: float, *, refresh: bool) -> list[PyJWK]:
        if self._keys is not None and not refresh and now < self._expires_at:
            return self._keys
        if self._keys is None and now < self._failed_until:
            raise KeysUnavailable("keys_unavailable")
        try:
            keys = self._client.get_signing_keys()
        except jwt.PyJWTError as error:
            log.warning("cannot fetch the OIDC key set from %s: %s", self._client.uri, error)
            if self._keys is None:
                self._failed_until = now + FAILURE_BACKOFF_SECONDS
                raise KeysUnavailable("keys_unavailable") from None
            # The last good keys still prove who signed; try the provider again later.
            self._expires_at = self._cooldown_until = now + REFRESH_COOLDOWN_SECONDS
            return self._keys
        self._keys = keys
        self._expires_at = now + self._lifespan
        self._cooldown_until = now + REFRESH_COOLDOWN_SECONDS
        return keys


def _match(keys: list[PyJWK], kid: object) -> PyJWK | None:
    if kid is None:
        # Some providers publish a single key and omit the id.
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.key_id == kid), None)


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name``; a dotted name reaches into nested objects (``realm_access.roles``)
    unless a claim is literally named so (Azure AD uses URLs as claim names)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        # A space-separated list, as in the OAuth 2.0 scope claim.
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidToken("malformed")


def caller_from_claims(claims: Mapping[str, Any], settings: Settings) -> Caller:
    # Providers add roles of their own (Keycloak: offline_access, uma_authorization):
    # those are not Tequio's, so they are ignored rather than refused.
    known = {r.value: r for r in Role}
    roles = frozenset(
        known[r] for r in _strings(claim(claims, settings.oidc_roles_claim)) if r in known
    )
    agency = claim(claims, settings.oidc_agency_claim)
    if agency is not None and not isinstance(agency, str):
        raise InvalidToken("malformed")
    municipality = claim(claims, settings.oidc_municipality_claim) or settings.municipality
    if municipality != settings.municipality:
        raise InvalidToken("municipality")
    exp = claims.get("exp")
    return Caller(
        subject=token_subject(claims),
        roles=roles,
        agency_id=agency or None,
        table_ids=frozenset(_strings(claim(claims, settings.oidc_tables_claim))),
        municipality=municipality,
        expires_at=float(exp) if isinstance(exp, (int, float)) else None,
    )
