"""A batch's queued writes, grouped by statement before they are sent (ADR 0020): the
order may change only where no reader of the read model could tell."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from projections.base import QueuedWrite, grouped

STATEMENTS = ["UPDATE progress", "UPDATE status", "UPDATE due_on"]

writes_strategy = st.lists(
    st.builds(
        lambda statement, row, checked, number: QueuedWrite(
            statement, {"n": number}, "missing" if checked else None, row
        ),
        st.sampled_from(STATEMENTS),
        # None: a write that names no row (it keeps its place).
        st.one_of(st.none(), st.sampled_from(["c1", "c2", "c3", "c4", "c5"])),
        st.booleans(),
        st.integers(),
    ),
    max_size=40,
).map(lambda ws: [w._replace(params={"n": i}) for i, w in enumerate(ws)])


def runs(writes: list[QueuedWrite]) -> int:
    return sum(1 for _ in itertools.groupby(writes, key=lambda w: (w.query, w.missing)))


def w(statement: str, row: str | None, number: int) -> QueuedWrite:
    return QueuedWrite(statement, {"n": number}, "missing", row)


def test_interleaved_statements_on_different_rows_are_sent_as_one_run_each() -> None:
    writes = [
        w("progress", "c1", 0),
        w("status", "c2", 1),
        w("progress", "c3", 2),
        w("status", "c4", 3),
        w("progress", "c5", 4),
    ]

    assert [x.params["n"] for x in grouped(writes)] == [0, 2, 4, 1, 3]


def test_a_rows_writes_keep_their_order() -> None:
    writes = [
        w("made", "c1", 0),
        w("progress", "c1", 1),
        w("made", "c2", 2),
        w("fulfilled", "c1", 3),
        w("progress", "c2", 4),
    ]

    assert [x.params["n"] for x in grouped(writes)] == [0, 2, 1, 4, 3]


def test_a_write_without_a_row_is_a_fence_nothing_crosses() -> None:
    writes = [
        w("progress", "c1", 0),
        w("status", "c2", 1),
        w("rename everything", None, 2),
        w("progress", "c3", 3),
        w("status", "c4", 4),
        w("progress", "c5", 5),
    ]

    assert [x.params["n"] for x in grouped(writes)] == [0, 1, 2, 3, 5, 4]


@given(writes_strategy)
def test_grouping_sends_every_write_once(writes: list[QueuedWrite]) -> None:
    assert sorted(x.params["n"] for x in grouped(writes)) == list(range(len(writes)))


@given(writes_strategy)
def test_grouping_keeps_each_rows_order(writes: list[QueuedWrite]) -> None:
    out = grouped(writes)
    for row in {x.row for x in writes if x.row is not None}:
        assert [x for x in out if x.row == row] == [x for x in writes if x.row == row]


@given(writes_strategy)
def test_grouping_moves_nothing_across_a_write_without_a_row(writes: list[QueuedWrite]) -> None:
    out = grouped(writes)
    for index, fence in enumerate(writes):
        if fence.row is None:
            assert out.index(fence) == index
            assert {x.params["n"] for x in out[:index]} == {x.params["n"] for x in writes[:index]}


@given(writes_strategy)
def test_grouping_never_makes_more_runs(writes: list[QueuedWrite]) -> None:
    assert runs(grouped(writes)) <= runs(writes)
