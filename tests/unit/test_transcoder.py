"""Stored events read with orjson give exactly what the library's own decoder gives."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import example, given
from hypothesis import strategies as st

from cases.transcoder import FastJSONTranscoder
from cases.values import ENUMS, register_value_transcodings


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_value_transcodings(transcoder)
    return transcoder


LIBRARY = _registered(JSONTranscoder())
FAST = _registered(FastJSONTranscoder())

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: orjson refuses them, the library reads them
    st.floats(allow_nan=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.timezones()),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.one_of(*(st.sampled_from(list(e)) for e in ENUMS)),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _values, max_size=8))
@example({"n": -9223372036854775809, "m": 18446744073709551616})  # beyond 64 bits
@example({"at": datetime(2016, 11, 6, 1, 0, tzinfo=ZoneInfo("America/Boise"))})  # a fold
def test_decoding_gives_what_the_library_gives(state: dict[str, Any]) -> None:
    stored = LIBRARY.encode(state)
    decoded = FAST.decode(stored)
    assert decoded == LIBRARY.decode(stored)
    # Read back and written again, the same text. (Not `== state`: a time in a zone's
    # repeated hour is never equal to the same instant with a fixed offset, which is
    # what the library's own decoder gives back too.)
    assert LIBRARY.encode(decoded) == stored


def test_encoding_is_the_library_s_own() -> None:
    state = {"at": Decimal("1.5"), "items": [1, "dos"], "ok": True}
    assert FAST.encode(state) == LIBRARY.encode(state)


def test_text_orjson_refuses_is_read_as_the_library_reads_it() -> None:
    stored = b'{"ratio":NaN,"big":123456789012345678901234567890}'
    decoded = FAST.decode(stored)
    assert decoded["big"] == 123456789012345678901234567890
    assert decoded["ratio"] != decoded["ratio"]  # NaN


def test_an_unknown_transcoding_is_the_library_s_error() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.decode(b'{"x":{"_type_":"no_such_type","_data_":"1"}}')
