"""The library's JSON transcoder, decoding with orjson.

Stored events keep the library's format: this class encodes exactly as
``JSONTranscoder`` does and reads the same text. orjson parses it about twice as
fast as ``json`` with an object hook, and decoding is a tenth of what a read
model's catch-up costs (docs/performance.md, step 35). Text orjson refuses (a
``NaN``) or would read otherwise (an integer beyond 64 bits) and unknown
transcodings go the library's way, so values and errors stay the library's.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# orjson reads an integer beyond 64 bits as a float (-9223372036854775809 becomes
# -9.223372036854776e18) where the library keeps it exact. A float that large sends
# the text the library's way (a genuine one too: rare, and only slower).
_LARGEST_EXACT = float(2**63)


class _BeyondOrjson(Exception):
    pass


class FastJSONTranscoder(JSONTranscoder):
    def decode(self, data: bytes) -> Any:
        try:
            return self._restored(orjson.loads(data))
        except (orjson.JSONDecodeError, KeyError, _BeyondOrjson):
            return super().decode(data)

    def _restored(self, value: Any) -> Any:
        """What ``JSONDecoder(object_hook=...)`` gives: every ``{"_type_", "_data_"}``
        object, innermost first, becomes the value its transcoding decodes."""
        kind = type(value)
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self.names[value["_type_"]].decode(self._restored(value["_data_"]))
            for key, item in value.items():
                inner = type(item)
                if inner is dict or inner is list:
                    value[key] = self._restored(item)
                elif inner is float and not -_LARGEST_EXACT < item < _LARGEST_EXACT:
                    raise _BeyondOrjson
            return value
        if kind is list:
            return [self._restored(item) for item in value]
        if kind is float and not -_LARGEST_EXACT < value < _LARGEST_EXACT:
            raise _BeyondOrjson
        return value
