"""Open311's XML stays well-formed whatever text a case recorded before the input check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from api.open311.serialize import xml_bytes


def test_text_xml_cannot_carry_is_replaced_and_the_document_still_parses() -> None:
    description = "Fuga\uffffde agua\x01 frente al mercado\ud800"
    document = xml_bytes("service_requests", [{"description": description}])
    root = ET.fromstring(document)
    assert root.findtext("request/description") == "Fuga\ufffdde agua\ufffd frente al mercado\ufffd"
