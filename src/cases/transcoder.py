"""The library's JSON transcoder, decoding with orjson.

Stored events keep the library's format: this class encodes exactly as
``JSONTranscoder`` does and reads the same text. orjson parses it about twice as
fast as ``json`` with an object hook, and decoding is a tenth of what a read
model's catch-up costs (docs/performance.md, step 35). Text orjson refuses (a
``NaN``, an integer beyond 64 bits) and unknown transcodings go the library's way,
so errors stay the library's.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder


class FastJSONTranscoder(JSONTranscoder):
    def decode(self, data: bytes) -> Any:
        try:
            return self._restored(orjson.loads(data))
        except (orjson.JSONDecodeError, KeyError):
            return super().decode(data)

    def _restored(self, value: Any) -> Any:
        """What ``JSONDecoder(object_hook=...)`` gives: every ``{"_type_", "_data_"}``
        object, innermost first, becomes the value its transcoding decodes."""
        kind = type(value)
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self.names[value["_type_"]].decode(self._restored(value["_data_"]))
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._restored(item)
            return value
        if kind is list:
            return [
                self._restored(item) if type(item) is dict or type(item) is list else item
                for item in value
            ]
        return value
