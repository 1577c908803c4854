"""Open311 documents as JSON or XML.

One neutral shape (dicts, lists, scalars) is written both ways. The XML follows the
spec's element names: a list is an element whose children are its items, each named
by the singular the spec uses (``services`` → ``service``, ``service_requests`` →
``request``); the JSON is the same tree by the spec's "Spark convention" (a list is an
array, the wrapping element is dropped).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from fastapi.responses import Response

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "errors": "error",
}


# What XML 1.0 cannot carry. New text with these is refused (cases.application), but a
# case recorded before that must not make the whole list unreadable.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, item_tag), item)
    else:
        element.text = _text(value)


def xml_bytes(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    # ElementTree escapes text (&, <, >); the declaration is written by hand because the
    # spec asks for encoding="UTF-8" in it and ElementTree writes its own quoting.
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def document(
    fmt: str,
    root: str,
    value: Any,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if fmt == "xml":
        return Response(
            xml_bytes(root, value), status_code=status_code, media_type=XML_TYPE, headers=headers
        )
    return Response(
        json_bytes(value), status_code=status_code, media_type=JSON_TYPE, headers=headers
    )


def errors(
    fmt: str, status_code: int, description: str, *, headers: dict[str, str] | None = None
) -> Response:
    """The spec's error document: ``[{code, description}]`` / ``<errors><error>``."""
    body = [{"code": status_code, "description": description}]
    return document(
        fmt if fmt in FORMATS else "json", "errors", body, status_code=status_code, headers=headers
    )
