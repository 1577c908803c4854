"""A bound on how much one GraphQL operation may ask for (DESIGN: "depth and cost
limits").

Depth (10), aliases (30) and tokens (3,000) do not bound breadth: lists of up to 500
items nested in lists multiply, and one anonymous document within those limits asked
for millions of fields and held the server for most of a minute. Before an operation
runs, its cost is estimated: every field counts as many times as it would be resolved,
that is the product of the sizes of the lists around it. A list's size is

- the ``first`` of the field that pages it (as given, or its default; unset where that
  means every item, the largest page, ``MAX_PAGE``): a connection's ``edges``, or the
  lists of an object a field with ``first`` returns (the briefing);
- else ``LIST_ESTIMATE``: a case's commitments, a commitment's timeline, a table's
  sessions are lists of tens at most.

Over ``MAX_COST`` the operation is refused (``BAD_USER_INPUT``, ``query_too_costly``)
before anything is read (``QueryCostLimit``). The board's page of 100 with nested
fields costs about 1,400; 500 commitments with every field and their timelines about
40,000.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from api.errors import ApiError

MAX_COST = 100_000
LIST_ESTIMATE = 20
MAX_PAGE = 500


class QueryCostLimit(SchemaExtension):
    """Refuses, before it runs, an operation estimated to cost more than ``MAX_COST``.

    An extension rather than a validation rule: the estimate needs the variables (a
    board asking ``first: $n``), which validation does not see. It runs after
    validation's cache has spoken and only if the document is valid."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            cost = estimate_cost(
                context.schema._schema, document, context.operation_name, context.variables
            )
            if cost > MAX_COST:
                refusal = ApiError("BAD_USER_INPUT", "query_too_costly", cost=cost, max=MAX_COST)
                context.pre_execution_errors = [GraphQLError(str(refusal), original_error=refusal)]
        yield


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """How many fields the operation (the one named, else every one) would resolve,
    at most; stops counting a little past ``MAX_COST``."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (
            definition.name is None or definition.name.value != operation_name
        ):
            continue
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }.get(definition.operation)
        if root is None:
            continue
        given = dict(variables or {})
        for declared in definition.variable_definitions or ():
            name = declared.variable.name.value
            if name not in given and isinstance(declared.default_value, IntValueNode):
                given[name] = int(declared.default_value.value)
        walk = _Walk(schema, fragments, given)
        total = max(total, walk.cost(definition.selection_set, root, 1, None, frozenset()))
    return total


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def cost(
        self,
        selections: SelectionSetNode | None,
        parent: GraphQLNamedType,
        times: int,
        page: int | None,
        spread: frozenset[str],
    ) -> int:
        """What ``selections`` on ``parent`` cost, resolved ``times`` times; ``page`` is
        the size of the lists a paging field above asked for."""
        if selections is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, times, page, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, on or parent, times, page, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    continue  # unknown or cyclic: validation refuses the document
                on = self.schema.get_type(fragment.type_condition.name.value)
                total += self.cost(
                    fragment.selection_set, on or parent, times, page, spread | {name}
                )
            if total > MAX_COST:
                break  # enough to refuse; spare the rest of a hostile document
        return total

    def field(
        self,
        node: FieldNode,
        parent: GraphQLObjectType,
        times: int,
        page: int | None,
        spread: frozenset[str],
    ) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return times  # __typename
        paging = definition.args.get("first")
        asked = self.first(node, paging.default_value) if paging is not None else None
        if _is_list(definition.type):
            size = asked if asked is not None else page or LIST_ESTIMATE
            inner, below = times * size, None
        else:
            inner, below = times, asked if asked is not None else page
        return times + self.cost(
            node.selection_set, get_named_type(definition.type), inner, below, spread
        )

    def first(self, node: FieldNode, default: Any) -> int:
        """The page a paging field asks for: as given (a literal or a variable), else
        the argument's own default (the contract's 50), else (a briefing's ``first``
        unset means every item) the largest page."""
        size: Any = default
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, IntValueNode):
                    size = int(value.value)
                elif isinstance(value, VariableNode):
                    size = self.variables.get(value.name.value, default)
                else:
                    size = None
        if not isinstance(size, int) or isinstance(size, bool):
            return MAX_PAGE
        return max(1, min(size, MAX_PAGE))


def _is_list(kind: GraphQLOutputType) -> bool:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)
