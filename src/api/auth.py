"""Bearer tokens: who the caller is, in which role, for which agency and cabinets.

Development tokens are HS256 JWTs signed with ``TEQUIO_SECRET`` and minted by
``tequio token``. With no token, the caller is the public.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

import jwt

ISSUER = "tequio"
AUDIENCE = "tequio-api"
DEFAULT_LIFETIME_SECONDS = 12 * 3600


class Role(Enum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    SECRETARY = "secretary"
    AGENCY_STAFF = "agency_staff"
    CABINET_MEMBER = "cabinet_member"
    INTEGRATION = "integration"


class InvalidToken(Exception):
    """The bearer token is malformed, expired, or not signed by us.

    Its message is one of: expired, signature, audience, malformed, municipality."""


@dataclass(frozen=True)
class Caller:
    subject: str | None
    roles: frozenset[Role] = field(default_factory=frozenset)
    agency_id: str | None = None
    table_ids: frozenset[str] = field(default_factory=frozenset)
    municipality: str | None = None

    @property
    def is_public(self) -> bool:
        return self.subject is None

    @property
    def actor(self) -> str:
        return self.subject or "public"

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


PUBLIC = Caller(subject=None)


def mint_token(
    secret: str,
    *,
    subject: str,
    roles: list[str],
    municipality: str,
    agency_id: str | None = None,
    table_ids: list[str] | None = None,
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
) -> str:
    for role in roles:
        Role(role)  # refuses an unknown role with ValueError
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime_seconds,
        "roles": roles,
        "municipality": municipality,
    }
    if agency_id:
        claims["agency"] = agency_id
    if table_ids:
        claims["tables"] = table_ids
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str, *, municipality: str) -> Caller:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
        roles = frozenset(Role(r) for r in claims.get("roles", []))
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("signature") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        raise InvalidToken("audience") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidToken("malformed") from None
    token_municipality = claims.get("municipality", municipality)
    if token_municipality != municipality:
        raise InvalidToken("municipality")
    return Caller(
        subject=str(claims["sub"]),
        roles=roles,
        agency_id=claims.get("agency"),
        table_ids=frozenset(claims.get("tables", [])),
        municipality=token_municipality,
    )
