"""How a request's Idempotency-Key is scoped to each of its mutations (ADR 0003).

One key may cover several mutations in one document: the first top-level field uses
the key as sent, the n-th ``<key>#<n>``. A retry of the same document finds each
field's receipt; the same key sent with another mutation finds the first one's
receipt, whose fingerprint differs, and is refused as reused (``CONFLICT``). Domain
mutations and webhook operations scope their keys the same way.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode
from strawberry.types import Info


def field_position(info: Info) -> int:
    """This field's place among the operation's top-level fields (fragments expanded)."""
    keys: list[str] = []
    # graphql-core's resolve info: strawberry's Info does not carry the fragments.
    fragments = info._raw_info.fragments

    def collect(selections: Any) -> None:
        for node in selections:
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                if key != "__typename" and key not in keys:
                    keys.append(key)
            elif isinstance(node, InlineFragmentNode):
                collect(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                collect(fragments[node.name.value].selection_set.selections)

    collect(info.operation.selection_set.selections)
    key = str(info.path.key)
    return keys.index(key) if key in keys else 0


def scoped_key(key: str | None, position: int) -> str | None:
    """The receipt key of the mutation at ``position`` (``None`` without a key)."""
    if key and position:
        return f"{key}#{position}"
    return key or None
