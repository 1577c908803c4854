"""The schema, its limits, and how errors reach the caller."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types

from api.availability import is_unavailable, unavailable
from api.errors import ApiError, to_graphql_error
from api.graphql.cost import QueryCostLimit
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.request_messages import in_spanish, without_suggestion
from api.graphql.subscriptions import Subscription
from api.graphql.webhooks import WebhookMutation, WebhookQuery
from cases.errors import TequioError

log = logging.getLogger("tequio.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 3000
DOCUMENT_CACHE_SIZE = 256

# Operations kept in modules of their own, joined into the root types.
RootQuery = merge_types("Query", (Query, WebhookQuery))
RootMutation = merge_types("Mutation", (Mutation, WebhookMutation))


class ContractErrors(SchemaExtension):
    """Gives every error a contract code and a message in the caller's language.

    Unexpected exceptions are logged with their stack and shown to the client
    only as an internal error: no stack traces or SQL leave the server.
    """

    # With introspection off, graphql-core's "Did you mean ...?" would still spell out
    # the schema's field, argument and type names, one guess at a time.
    suggestions = True

    def on_operation(self) -> Iterator[None]:
        yield
        self._translate_errors(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Over a WebSocket each result is sent as it comes, before the operation ends:
        each is translated here, so that errors there carry their code and language too."""
        self._translate_errors(result)
        yield

    def _translate_errors(self, result: Any) -> None:
        errors = getattr(result, "errors", None) if result is not None else None
        if not errors:
            return
        # Translating twice gives the same (a stream's last result may come back here).
        context = self.execution_context.context
        language = getattr(context, "language", "en")
        result.errors = [self._translate(e, language) for e in errors]

    def _translate(self, error: GraphQLError, language: str) -> GraphQLError:
        original = error.original_error
        if isinstance(original, (TequioError, ApiError)):
            translated = to_graphql_error(original, language)
        elif original is None or isinstance(original, GraphQLError):
            # Parse, validation and variable errors: the request itself is malformed.
            extensions = dict(error.extensions or {})
            extensions.setdefault("code", "BAD_USER_INPUT")
            message = error.message if self.suggestions else without_suggestion(error.message)
            return GraphQLError(
                in_spanish(message) if language == "es" else message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=extensions,
            )
        elif is_unavailable(original):
            # PostgreSQL is down or restarting: a typed answer the client retries.
            log.warning("database unavailable in %s: %r", error.path, original)
            translated = to_graphql_error(unavailable(), language)
        else:
            log.error("unexpected error in %s", error.path, exc_info=original)
            message = "Error interno." if language == "es" else "Internal error."
            translated = GraphQLError(message, extensions={"code": "INTERNAL_SERVER_ERROR"})
        return GraphQLError(
            translated.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=translated.extensions,
        )

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        return dict(getattr(context, "response_extensions", {}) or {})


class QuietContractErrors(ContractErrors):
    """:class:`ContractErrors` without the schema's names in "Did you mean" hints."""

    suggestions = False


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """Refuses ``__schema`` and ``__type`` (``__typename`` stays allowed) with the
    contract's FORBIDDEN and a message in the caller's language."""

    def report_error(self, error: GraphQLError) -> None:
        refusal = ApiError("FORBIDDEN", "introspection_disabled")
        super().report_error(GraphQLError(str(refusal), error.nodes, original_error=refusal))


class CachedParser(ParserCache):
    """The library's parser cache, except that a malformed document is left for
    strawberry's own parse, which reports it as a request error (a syntax error
    raised in the extension would escape the contract's error codes)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            context.graphql_document = None
        yield


class OperationNameRequired(SchemaExtension):
    """A document of several operations needs ``operationName`` (GraphQL spec,
    GetOperation): strawberry would run the first one, so a client that forgot the
    name would get an answer to a question it may not have meant to ask."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # strawberry fills ``operation_name`` from the first operation; what the client
        # sent is kept apart (a test sends a named one, should that name change).
        sent = getattr(context, "_provided_operation_name", None)
        if document is not None and sent is None and not context.pre_execution_errors:
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if operations > 1:
                refusal = ApiError("BAD_USER_INPUT", "operation_name_required", count=operations)
                context.pre_execution_errors = [GraphQLError(str(refusal), original_error=refusal)]
        yield


class TequioSchema(strawberry.Schema):
    # The limits' validation rules and the token cap this schema applies (set by
    # ``build_schema``), for the response cache's own check of a document.
    limit_rules: tuple[type[ASTValidationRule], ...] = ()
    max_tokens: int | None = None

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Refusals (stale versions, bad input, forbidden) are answers, not server faults:
        only unexpected errors are logged, by :class:`ContractErrors`."""


def build_schema(*, introspection: bool = True) -> TequioSchema:
    """The schema; ``introspection=False`` (production's default) refuses ``__schema``
    and ``__type`` queries. Printing the SDL (``tequio schema``) needs no introspection.

    Clients send the same few documents over and over, so parsing and validation
    are cached (bounded LRUs keyed by the text, and by the document and the rules).
    The limits' rule classes are made once here: the library's limiters make a new
    class per instance, which would make every request a validation-cache miss.
    """
    rules = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    if not introspection:
        rules.append(NoIntrospection)
    errors = ContractErrors if introspection else QuietContractErrors
    extensions: list[Any] = [
        errors,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        lambda: CachedParser(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        # After the validation cache: only a valid document is estimated.
        QueryCostLimit,
        OperationNameRequired,
    ]
    schema = TequioSchema(
        query=RootQuery, mutation=RootMutation, subscription=Subscription, extensions=extensions
    )
    schema.limit_rules = tuple(rules)
    schema.max_tokens = MAX_TOKENS
    return schema
