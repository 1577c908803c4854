"""Refusals the routing layer makes (no such path, a method a path does not take) as
typed errors, like every other refusal, instead of FastAPI's bare ``{"detail": ...}``.

The shape follows the path: a GraphQL response on ``/graphql``, the spec's error document
on Open311, RFC 9457 problem details elsewhere; each with the contract's code and a
message in the caller's language. Found by the fuzz tests (``tests/fuzz``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from api.errors import ApiError
from api.language import preferred_language
from api.limits import error_response

CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED"}


def refusal(
    request: Request, status_code: int, detail: object, headers: dict[str, str]
) -> ApiError:
    """The typed error for an HTTP refusal of ``request``."""
    path = request.url.path[:100]
    if status_code == 404:
        return ApiError("NOT_FOUND", "no_such_path", path=path)
    if status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "-"
        return ApiError(
            "BAD_USER_INPUT",
            "method_not_allowed",
            method=request.method[:20],
            path=path,
            allowed=allowed,
        )
    code = CODES.get(status_code, "BAD_USER_INPUT" if status_code < 500 else "SERVICE_UNAVAILABLE")
    return ApiError(code, "bad_input", detail=str(detail)[:200])


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    error = refusal(request, exc.status_code, exc.detail, headers)
    path = request.url.path
    if path.startswith("/open311/"):
        from api.open311.router import open311_language
        from api.open311.serialize import errors

        fmt = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else "json"
        message = error.message(open311_language(request))
        return errors(fmt, exc.status_code, message, headers=headers)
    language = preferred_language(request.headers.get("accept-language"))
    return error_response(error, language, exc.status_code, path=path, headers=headers)


def install_http_error_handlers(app: FastAPI) -> None:
    """Answers Starlette's and FastAPI's HTTP refusals (404, 405, and any other
    ``HTTPException`` a route or a mounted router raises) as typed errors."""
    app.add_exception_handler(HTTPException, _http_exception)
