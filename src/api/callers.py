"""Who is calling: the bearer token made a :class:`Caller`, charged against the rate limit.

One :class:`Gatekeeper` per app (on ``app.state.gatekeeper``), shared by GraphQL and
the REST routes (feed, Open311), so every entry point authenticates the same way.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from api.auth import PUBLIC, Authenticator, Caller, InvalidToken, KeysUnavailable
from api.errors import ApiError
from api.limits import RateLimited, RateLimiter


class AuthenticationFailed(Exception):
    """The token was refused (401), or the identity provider could not be asked (503)."""

    def __init__(self, error: ApiError, language: str, status_code: int = 401) -> None:
        self.error = error
        self.language = language
        self.status_code = status_code


class Gatekeeper:
    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self.authenticator = authenticator
        self.limiter = limiter

    async def caller(self, request: HTTPConnection, language: str) -> Caller:
        """The caller of this request, counted once against its rate limit.

        Raises :class:`AuthenticationFailed` or ``api.limits.RateLimited``."""
        caller = await self.identify(request, language)
        self.limiter.charge(request, caller, language)
        return caller

    async def identify(self, request: HTTPConnection, language: str) -> Caller:
        header = request.headers.get("authorization")
        if not header:
            return PUBLIC
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed(
                ApiError("UNAUTHENTICATED", "invalid_token", reason="scheme"), language
            )
        return await self.token_caller(token.strip(), language, request)

    async def token_caller(
        self, token: str, language: str, connection: HTTPConnection | None = None
    ) -> Caller:
        """A caller from a bare token (e.g. Open311's ``api_key``).

        With ``connection``, the tokens refused for its address are counted: past the
        rate limit's allowance a minute, its tokens are refused unchecked
        (``RateLimited``) until the allowance comes back, so guessing tokens is slow."""
        if connection is not None:
            wait = self.limiter.refusals_wait(connection)
            if wait is not None:
                raise RateLimited(wait, language, connection.url.path)
        try:
            return await self.authenticator.authenticate(token)
        except KeysUnavailable:
            raise AuthenticationFailed(
                ApiError("UNAUTHENTICATED", "identity_provider_unavailable"), language, 503
            ) from None
        except InvalidToken as error:
            if connection is not None:
                self.limiter.refused(connection)
            raise AuthenticationFailed(
                ApiError("UNAUTHENTICATED", "invalid_token", reason=str(error)), language
            ) from None


def gatekeeper(request: HTTPConnection) -> Gatekeeper:
    """The app's gatekeeper (made by ``create_app``)."""
    gate: Gatekeeper = request.app.state.gatekeeper
    return gate
