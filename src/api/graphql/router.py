"""The GraphQL HTTP endpoint: strawberry's router, with its transport refusals typed.

strawberry answers a request it cannot run (a body that is not JSON, no query,
``variables`` that are not an object, an unknown ``operationName``, a mutation over GET)
with ``text/plain`` and a bare reason. Here each is a GraphQL response with the
contract's ``BAD_USER_INPUT`` and a message in the caller's language.

A subscription sent as a plain HTTP request (not the multipart protocol) is refused the
same way: strawberry would run it as a query and fail with an internal error, since its
field only yields over a stream. Subscriptions go over WebSocket
(``graphql-transport-ws``). Both were found by the fuzz tests (``tests/fuzz``).
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from fastapi.responses import Response
from graphql import GraphQLError, OperationDefinitionNode, parse
from strawberry.fastapi import GraphQLRouter
from strawberry.types.graphql import OperationType

from api.errors import ApiError
from api.limits import error_response

SUBSCRIPTION_OVER_HTTP = "subscriptions are not allowed"


class TequioGraphQLRouter(GraphQLRouter[Any, Any]):
    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as refused:
            language = getattr(context, "language", "en")
            return transport_refusal(refused.status_code, refused.reason, language)

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """One operation of a plain (not streamed) HTTP request: never a subscription."""
        request_data = kwargs.get("request_data")
        if request_data is not None and _is_subscription(request_data):
            raise HTTPException(400, SUBSCRIPTION_OVER_HTTP)
        return await super().execute_single(*args, **kwargs)


def _is_subscription(request_data: Any) -> bool:
    query = getattr(request_data, "query", None)
    # Keywords are case-sensitive: most documents are not parsed a second time here.
    if not isinstance(query, str) or "subscription" not in query:
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # the schema's parse error says what is wrong
    name = getattr(request_data, "operation_name", None)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    return len(chosen) == 1 and chosen[0].operation.value == OperationType.SUBSCRIPTION.value


def transport_refusal(status_code: int, reason: str, language: str) -> Response:
    """strawberry's HTTP refusal as a typed GraphQL error."""
    key = "subscription_over_http" if reason == SUBSCRIPTION_OVER_HTTP else "graphql_request"
    error = ApiError("BAD_USER_INPUT", key, detail=reason[:200])
    return error_response(error, language, status_code if status_code < 500 else 400)
