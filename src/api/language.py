"""The caller's language, from Accept-Language: es-MX (Spanish) or English."""

from __future__ import annotations


def preferred_language(accept_language: str | None, default: str = "en") -> str:
    """Returns "es" or "en": the first of the two the caller ranks highest, else
    ``default``. A locale written with an underscore (``es_MX``) counts too."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().replace("_", "-").split("-")[0]
        if primary in ("es", "en"):
            ranked.append((-quality, index, primary))
    return sorted(ranked)[0][2] if ranked else default
