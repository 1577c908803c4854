"""Names listed in the order a Spanish reader expects (ADR 0029).

PostgreSQL sorts text by its collation. The embedded server's is ``C.UTF-8`` and
it has no ICU collations, so ``ORDER BY name`` put every capital before every
lowercase letter and every accented letter after ``z``: "Álvaro Obregón" last,
"colonia Centro" after "Zona Norte". The lists people read (territories, agencies,
posts, tables) are short and never paged, so their views sort them here, with
the levels of Spanish collation (as ICU's ``es`` does):

1. letters, ignoring accents and case; ``ñ`` is a letter of its own, after ``n``;
2. then accents (``Peru`` before ``Perú``);
3. then case, lowercase first (``avenida`` before ``Avenida``).

Spaces, punctuation and symbols come before digits and letters ("¿Dónde?" among
the d's, not after z).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

_TILDE = "\u0303"
# Each base character's place is twice its code point; ñ takes the odd place
# between n and o.
_N = 2 * ord("n")
_ENYE = _N + 1
# Below every character's place (twice the largest code point).
_PUNCTUATION_BAND = 2 * 0x110000

SortKey = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], str]


def spanish_key(text: str) -> SortKey:
    letters: list[int] = []
    accents: list[int] = []
    cases: list[int] = []
    # NFKD: an ordinal's "ª" reads as "a", a no-break space as a space.
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char) and letters:
            if char == _TILDE and letters[-1] == _N and accents[-1] == 0:
                letters[-1] = _ENYE
            else:
                accents[-1] = accents[-1] * 0x10000 + ord(char)
            continue
        lower = char.lower()
        base = lower if len(lower) == 1 else char
        # Spaces, punctuation and symbols ("¿", "¡", quotes) before digits and letters.
        place = 2 * ord(base)
        if unicodedata.category(char)[0] in "PSZ":
            place -= _PUNCTUATION_BAND
        letters.append(place)
        accents.append(0)
        cases.append(0 if char == base else 1)
    # The text itself last: two names that differ only in what NFD folds together
    # still come in one order every time.
    return tuple(letters), tuple(accents), tuple(cases), text


def sorted_by_name(rows: Iterable[dict[str, Any]], field: str = "name") -> list[dict[str, Any]]:
    """``rows`` in Spanish order of ``field``, then by ``id``."""
    return sorted(rows, key=lambda row: (spanish_key(row[field] or ""), row["id"]))
