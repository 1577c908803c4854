"""One short sentence per timeline entry, in English or in Spanish (es-MX).

``summarize(type, data, language)`` takes an entry's ``type`` (the event class
name, e.g. 'ProgressReported') and ``data`` (its displayable facts) and never
fails: an unknown type or a missing fact gives a plainer sentence, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

THEMES = {
    "PARTICIPATION": ("Participation", "Participación"),
    "ECONOMY": ("Economy", "Economía"),
    "CULTURE": ("Culture", "Cultura"),
    "SAFETY": ("Safety", "Seguridad"),
    "ENVIRONMENT": ("Environment", "Medio ambiente"),
    "PUBLIC_SPACE": ("Public space", "Espacio público"),
    "WATER": ("Water", "Agua"),
    "HEALTH": ("Health", "Salud"),
    "GENDER": ("Gender", "Género"),
    "SPORTS": ("Sports", "Deporte"),
    "MOBILITY": ("Mobility", "Movilidad"),
    "EDUCATION": ("Education", "Educación"),
    "CIVIL_PROTECTION": ("Civil protection", "Protección civil"),
    "URBAN_SERVICES": ("Urban services", "Servicios urbanos"),
}
PRIORITIES = {
    "LOW": ("low", "baja"),
    "MEDIUM": ("medium", "media"),
    "HIGH": ("high", "alta"),
    "URGENT": ("urgent", "urgente"),
}
MONTHS_EN = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
)  # fmt: skip
MONTHS_ES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
    "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip


def is_spanish(language: str | None) -> bool:
    return (language or "").strip().lower().replace("_", "-").startswith("es")


def summarize(type: str, data: Mapping[str, Any] | None, language: str = "en") -> str:
    """A short human sentence for a timeline entry, in 'en' or 'es' (es-MX)."""
    es = is_spanish(language)
    facts = _Facts(data or {}, es)
    writer = SENTENCES.get(type)
    if writer is None:
        return _words(type)
    return writer(facts)[1 if es else 0]


class _Facts:
    """The entry's data, read leniently, with words in the reader's language."""

    def __init__(self, data: Mapping[str, Any], es: bool) -> None:
        self.data = data
        self.es = es

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return "" if value is None else str(value).strip()

    def dash(self, key: str) -> str:
        """' — value' if there is a value to show."""
        value = self.text(key)
        return f" — {value}" if value else ""

    def colon(self, key: str) -> str:
        value = self.text(key)
        return f": {value}" if value else ""

    def theme(self) -> str:
        names = THEMES.get(self.text("theme"))
        return names[1 if self.es else 0] if names else _words(self.text("theme"))

    def priority(self) -> str:
        names = PRIORITIES.get(self.text("priority"))
        return names[1 if self.es else 0] if names else _words(self.text("priority")).lower()

    def day(self, key: str) -> str:
        raw = self.text(key)
        try:
            day = date.fromisoformat(raw[:10])
        except ValueError:
            return raw
        if self.es:
            return f"{day.day} de {MONTHS_ES[day.month - 1]} de {day.year}"
        return f"{MONTHS_EN[day.month - 1]} {day.day}, {day.year}"

    def count(self, key: str) -> int:
        value = self.data.get(key)
        return len(value) if isinstance(value, (list, tuple)) else 0

    def percent(self, key: str) -> tuple[str, str]:
        value = self.text(key) or "?"
        return f"{value}%", f"{value} %"  # es-MX separates the sign with a space


def _words(name: str) -> str:
    """'ProgressReported' or 'PUBLIC_SPACE' as plain words."""
    if not name:
        return ""
    if "_" in name or name.isupper():
        return name.replace("_", " ").capitalize()
    out = "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in name).strip()
    return out[:1].upper() + out[1:]


def _routed(f: _Facts) -> tuple[str, str]:
    n = f.count("table_ids")
    return (
        f"Routed to {n} table{'s' if n != 1 else ''}",
        f"Turnado a {n} mesa{'s' if n != 1 else ''}",
    )


def _closed(f: _Facts) -> tuple[str, str]:
    if f.text("assembly_id"):
        return ("Closed after the community's validation", "Cerrado tras la validación comunitaria")
    return ("Closed", "Cerrado")


def _declined(f: _Facts) -> tuple[str, str]:
    referred = f.text("referred_to")
    return (
        f"Declined{f.colon('reason')}" + (f" (referred to {referred})" if referred else ""),
        f"Declinado{f.colon('reason')}" + (f" (canalizado a {referred})" if referred else ""),
    )


def _progress(f: _Facts) -> tuple[str, str]:
    en, es = f.percent("progress")
    return (f"Progress reported: {en}{f.dash('note')}", f"Avance reportado: {es}{f.dash('note')}")


def _rescheduled(f: _Facts) -> tuple[str, str]:
    en = _Facts(f.data, False)
    return (
        f"Rescheduled from {en.day('previous_due_on')} to {en.day('due_on')}{f.dash('reason')}",
        f"Reprogramado del {f.day('previous_due_on')} al {f.day('due_on')}{f.dash('reason')}",
    )


def _made(f: _Facts) -> tuple[str, str]:
    en = _Facts(f.data, False)
    return (
        f"Commitment made: {f.text('description')} (due {en.day('due_on')})",
        f"Compromiso acordado: {f.text('description')} (vence el {f.day('due_on')})",
    )


def _fulfilled(f: _Facts) -> tuple[str, str]:
    en = _Facts(f.data, False)
    on_en = f" on {en.day('reported_on')}" if f.text("reported_on") else ""
    on_es = f" el {f.day('reported_on')}" if f.text("reported_on") else ""
    return (
        f"Reported fulfilled{on_en}{f.dash('evidence')}",
        f"Reportado como cumplido{on_es}{f.dash('evidence')}",
    )


def _triaged(f: _Facts) -> tuple[str, str]:
    en, es = _Facts(f.data, False), _Facts(f.data, True)
    return (
        f"Triaged: {en.theme()}, {en.priority()} priority",
        f"Clasificado: {es.theme()}, prioridad {es.priority()}",
    )


def _raised(f: _Facts) -> tuple[str, str]:
    return (f"Case raised: {f.text('title')}", f"Caso registrado: {f.text('title')}")


def _reassigned(f: _Facts) -> tuple[str, str]:
    # The agency's name when the reader passes it in (``responsible_agency_name``); its
    # id otherwise, quoted: the entry keeps the id, and names change.
    name = f.text("responsible_agency_name")
    if name:
        return (
            f"Reassigned to {name}{f.dash('reason')}",
            f"Reasignado a {name}{f.dash('reason')}",
        )
    agency = f.text("responsible_agency_id")
    if not agency:
        return (
            f"Reassigned to another responsible party{f.dash('reason')}",
            f"Reasignado a otro responsable{f.dash('reason')}",
        )
    return (
        f"Reassigned to agency '{agency}'{f.dash('reason')}",
        f"Reasignado al área '{agency}'{f.dash('reason')}",
    )


SENTENCES: dict[str, Callable[[_Facts], tuple[str, str]]] = {
    # Case
    "Raised": _raised,
    "Triaged": _triaged,
    "Routed": _routed,
    "AttentionStarted": lambda f: (
        "In attention: a commitment was made",
        "En atención: se acordó un compromiso",
    ),
    "Resolved": lambda f: (f"Resolved{f.dash('summary')}", f"Resuelto{f.dash('summary')}"),
    "Closed": _closed,
    "Reopened": lambda f: (f"Reopened{f.dash('reason')}", f"Reabierto{f.dash('reason')}"),
    "MergedAsDuplicate": lambda f: (
        "Merged as a duplicate of another case",
        "Fusionado como duplicado de otro caso",
    ),
    "Declined": _declined,
    "ReporterErased": lambda f: (
        "The reporter's contact data was erased on request",
        "Los datos de contacto de quien reportó se borraron a solicitud",
    ),
    # Commitment
    "Made": _made,
    "ProgressReported": _progress,
    "Rescheduled": _rescheduled,
    "Reassigned": _reassigned,
    "FulfilmentReported": _fulfilled,
    "Validated": lambda f: (
        "Fulfilment validated by the community",
        "Cumplimiento validado por la comunidad",
    ),
    "Disputed": lambda f: (
        f"Fulfilment disputed by the community{f.dash('reason')}",
        f"La comunidad objetó el cumplimiento{f.dash('reason')}",
    ),
    "Cancelled": lambda f: (f"Cancelled{f.dash('reason')}", f"Cancelado{f.dash('reason')}"),
}
