"""Named errors of the domain and the application, with messages in es-MX and English.

Every error carries a stable ``code`` (mapped by the API to the contract's
``extensions.code``), a ``key`` naming the exact rule, and parameters, so the
same refusal reads well to staff in Spanish and to integrators in English.
"""

from __future__ import annotations

from typing import Any, ClassVar

MESSAGES: dict[str, dict[str, str]] = {
    # not found
    "not_found": {
        "en": "No {kind} with id '{id}' exists.",
        "es": "No existe {kind_es} con el identificador '{id}'.",
    },
    # conflicts
    "stale_version": {
        "en": "The {kind} was changed by someone else: you sent version {expected}, "
        "it is now at version {actual}. Reload it and try again.",
        "es": "Alguien más modificó {kind_def_es}: usted envió la versión {expected} y ahora "
        "está en la versión {actual}. Vuelva a cargarlo e intente de nuevo.",
    },
    "concurrent_write": {
        "en": "The {kind} was changed at the same moment by another request. "
        "Reload it and try again.",
        "es": "Otra solicitud modificó {kind_def_es} en el mismo momento. "
        "Vuelva a cargarlo e intente de nuevo.",
    },
    "idempotency_key_reused": {
        "en": "The idempotency key '{key}' was already used for a different request.",
        "es": "La clave de idempotencia '{key}' ya se usó para una solicitud distinta.",
    },
    "already_exists": {
        "en": "{a_kind} with id '{id}' already exists.",
        "es": "Ya existe {kind_es} con el identificador '{id}'.",
    },
    # commitment rules
    "commitment_not_open": {
        "en": "A commitment that is {status} cannot {action}.",
        "es": "Un acuerdo en estado {status_es} no admite {action_es}.",
    },
    "validation_needs_fulfilment": {
        "en": "Only a commitment reported fulfilled can be {action}; this one is {status}.",
        "es": "Solo un acuerdo reportado como cumplido puede ser {action_es}; "
        "este está en estado {status_es}.",
    },
    "due_before_agreed": {
        "en": "The due date {due_on} is before the date the commitment was agreed, {agreed_on}.",
        "es": "La fecha compromiso {due_on} es anterior a la fecha del acuerdo, {agreed_on}.",
    },
    "reported_before_agreed": {
        "en": "Fulfilment cannot be reported on {reported_on}, before the commitment was "
        "agreed on {agreed_on}.",
        "es": "No se puede reportar el cumplimiento el {reported_on}, antes de la fecha del "
        "acuerdo, {agreed_on}.",
    },
    "same_due_date": {
        "en": "The commitment is already due on {due_on}.",
        "es": "El acuerdo ya vence el {due_on}.",
    },
    "progress_out_of_range": {
        "en": "Progress must be a whole percentage from 0 to 100; got {progress}.",
        "es": "El avance debe ser un porcentaje entero de 0 a 100; se recibió {progress}.",
    },
    "assembly_of_another_community": {
        "en": "Assembly '{assembly_id}' was held in a territory that is not the case's, "
        "nor one that contains it or lies within it: another community cannot judge "
        "this commitment.",
        "es": "La asamblea '{assembly_id}' se celebró en un territorio que no es el del "
        "caso, ni uno que lo contenga o que esté dentro de él: otra comunidad no puede "
        "juzgar este acuerdo.",
    },
    "assembly_before_fulfilment": {
        "en": "Assembly '{assembly_id}' was held on {held_on}, before the work was "
        "reported done on {fulfilled_on}.",
        "es": "La asamblea '{assembly_id}' se celebró el {held_on}, antes de que el "
        "trabajo se reportara cumplido el {fulfilled_on}.",
    },
    "same_responsible": {
        "en": "The commitment already has that responsible party and post.",
        "es": "El acuerdo ya tiene esa área responsable y ese cargo.",
    },
    "bad_expected_version": {
        "en": "'expectedVersion' counts from 1 (the version you last read); got {expected}.",
        "es": "'expectedVersion' cuenta desde 1 (la versión que usted leyó); "
        "se recibió {expected}.",
    },
    "bad_email": {
        "en": "'{field}' is not an e-mail address (name@domain).",
        "es": "'{field}' no es una dirección de correo electrónico (nombre@dominio).",
    },
    "date_out_of_range": {
        "en": "'{field}' must be a date from {first} to {last}; got {date}.",
        "es": "'{field}' debe ser una fecha del {first} al {last}; se recibió {date}.",
    },
    "date_in_the_future": {
        "en": "'{field}' cannot be after today ({today}); got {date}.",
        "es": "'{field}' no puede ser posterior a hoy ({today}); se recibió {date}.",
    },
    "session_not_of_table": {
        "en": "Table '{table_id}' held no session with id '{session_id}'.",
        "es": "La mesa '{table_id}' no ha sesionado con el identificador '{session_id}'.",
    },
    "session_needs_table": {
        "en": "A session ('{session_id}') is named only with the table that held it (tableId).",
        "es": "Una sesión ('{session_id}') se indica solo junto con la mesa que la "
        "celebró (tableId).",
    },
    "post_not_of_agency": {
        "en": "The post '{post_id}' belongs to agency '{post_agency}', not to '{agency_id}'.",
        "es": "El cargo '{post_id}' pertenece al área '{post_agency}', no a '{agency_id}'.",
    },
    "commitment_needs_forum": {
        "en": "A commitment is agreed at a table's session or at an assembly: give "
        "'tableId' or 'assemblyId'.",
        "es": "Un acuerdo se toma en una sesión de mesa o en una asamblea: indique "
        "'tableId' o 'assemblyId'.",
    },
    "case_not_routed_to_table": {
        "en": "The case is not routed to table '{table_id}': route it there first.",
        "es": "El caso no está turnado a la mesa '{table_id}': túrnelo primero.",
    },
    "case_not_committable": {
        "en": "Commitments cannot be made for a case that is {status}.",
        "es": "No se pueden hacer acuerdos para un caso en estado {status_es}.",
    },
    # case rules
    "case_transition": {
        "en": "A case that is {status} cannot be {action}.",
        "es": "Un caso en estado {status_es} no puede ser {action_es}.",
    },
    "case_not_triaged": {
        "en": "A case must be triaged before it is routed.",
        "es": "Un caso debe clasificarse antes de turnarse.",
    },
    "merge_into_itself": {
        "en": "A case cannot be merged into itself.",
        "es": "Un caso no puede fusionarse consigo mismo.",
    },
    "merge_into_merged": {
        "en": "Case '{id}' was itself merged into another case; merge into that one instead.",
        "es": "El caso '{id}' ya fue fusionado con otro; fusione con ese en su lugar.",
    },
    "location_half": {
        "en": "A location needs both latitude and longitude, or neither.",
        "es": "Una ubicación necesita latitud y longitud, o ninguna de las dos.",
    },
    "location_range": {
        "en": "'{field}' must be a number between -{max} and {max}.",
        "es": "'{field}' debe ser un número entre -{max} y {max}.",
    },
    "no_reporter": {
        "en": "This case keeps no reporter contact data, so there is nothing to erase.",
        "es": "Este caso no guarda datos de contacto de quien lo reportó; no hay nada que borrar.",
    },
    # directory and forums
    "territory_cycle": {
        "en": "Territory '{id}' cannot be placed under itself.",
        "es": "El territorio '{id}' no puede quedar dentro de sí mismo.",
    },
    "post_vacant_name": {
        "en": "An official's name is needed to appoint someone to a post.",
        "es": "Se necesita el nombre de la persona servidora pública para nombrarla.",
    },
    "already_holds_post": {
        "en": "{name} already holds the post '{post_id}'.",
        "es": "{name} ya ocupa el cargo '{post_id}'.",
    },
    "table_needs_members": {
        "en": "A table needs at least one member agency.",
        "es": "Una mesa necesita al menos un área integrante.",
    },
    "attendance_negative": {
        "en": "Attendance cannot be negative; got {attendance}.",
        "es": "La asistencia no puede ser negativa; se recibió {attendance}.",
    },
    "attendance_implausible": {
        "en": "Attendance of {attendance} is not plausible for one assembly: at most {max}.",
        "es": "Una asistencia de {attendance} no es verosímil para una asamblea: máximo {max}.",
    },
    "not_a_member": {
        "en": "Agency '{agency_id}' is not a member of table '{table_id}'.",
        "es": "El área '{agency_id}' no integra la mesa '{table_id}'.",
    },
    "not_your_agency": {
        "en": "Only staff of agency '{responsible}' may change this commitment; "
        "you act for '{agency_id}'.",
        "es": "Solo el personal del área '{responsible}' puede modificar este acuerdo; "
        "usted actúa por '{agency_id}'.",
    },
    # input
    "blank": {
        "en": "'{field}' must not be blank.",
        "es": "'{field}' no puede estar vacío.",
    },
    "too_long": {
        "en": "'{field}' is too long: at most {max} characters.",
        "es": "'{field}' es demasiado largo: máximo {max} caracteres.",
    },
    "control_characters": {
        "en": "'{field}' contains control characters (such as NUL) that text cannot hold.",
        "es": "'{field}' contiene caracteres de control (como NUL) que un texto no admite.",
    },
    "bad_id": {
        "en": "'{value}' is not a valid id for {field}.",
        "es": "'{value}' no es un identificador válido para {field}.",
    },
    "too_many_items": {
        "en": "'{field}' has too many items: at most {max}.",
        "es": "'{field}' tiene demasiados elementos: máximo {max}.",
    },
    "empty_list": {
        "en": "'{field}' needs at least one item.",
        "es": "'{field}' necesita al menos un elemento.",
    },
}

KIND_ES = {
    "case": "un caso",
    "commitment": "un acuerdo",
    "territory": "un territorio",
    "agency": "un área",
    "post": "un cargo",
    "table": "una mesa",
    "assembly": "una asamblea",
    "session": "una sesión",
}

KIND_DEF_ES = {
    "case": "el caso",
    "commitment": "el acuerdo",
    "territory": "el territorio",
    "agency": "el área",
    "post": "el cargo",
    "table": "la mesa",
    "assembly": "la asamblea",
    "session": "la sesión",
}

STATUS_ES = {
    "RAISED": "planteado",
    "TRIAGED": "clasificado",
    "ROUTED": "turnado",
    "IN_ATTENTION": "en atención",
    "RESOLVED": "resuelto",
    "CLOSED": "cerrado",
    "DECLINED": "declinado",
    "MERGED": "fusionado",
    "OPEN": "abierto",
    "IN_PROGRESS": "en proceso",
    "FULFILLED": "cumplido",
    "VALIDATED": "validado",
    "DISPUTED": "impugnado",
    "CANCELLED": "cancelado",
}

ACTION_ES = {
    "report progress": "reportar avance",
    "be rescheduled": "reprogramarse",
    "be reassigned": "reasignarse",
    "be reported fulfilled": "reportarse como cumplido",
    "be cancelled": "cancelarse",
    "validated": "validado",
    "disputed": "impugnado",
    "triaged": "clasificado",
    "routed": "turnado",
    "resolved": "resuelto",
    "closed": "cerrado",
    "reopened": "reabierto",
    "merged": "fusionado",
    "declined": "declinado",
}


class TequioError(Exception):
    """Base of every error Tequio reports to a person or a client."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, key: str, /, **params: Any) -> None:
        # ``key`` is positional-only: ``idempotency_key_reused`` has a ``key`` parameter.
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: str = "en") -> str:
        lang = "es" if language.lower().startswith("es") else "en"
        template = MESSAGES[self.key][lang]
        # What the caller sent is quoted back, but never at length: a 100,000-character
        # id must not come back as a 100 KB message.
        params = {name: _quoted(value) for name, value in self.params.items()}
        if lang == "en":
            kind = str(params.get("kind", ""))
            article = "An" if kind and kind[0] in "aeiou" else "A"
            params.setdefault("a_kind", f"{article} {kind}")
        if lang == "es":
            kind = str(params.get("kind", ""))
            params.setdefault("kind_es", KIND_ES.get(kind, "un registro"))
            params.setdefault("kind_def_es", KIND_DEF_ES.get(kind, "el registro"))
            for name in ("status", "action"):
                if name in params:
                    table = STATUS_ES if name == "status" else ACTION_ES
                    value = str(params[name])
                    params.setdefault(f"{name}_es", table.get(value, value))
        return template.format(**params)


QUOTED_MAX = 120


def _quoted(value: Any) -> Any:
    if isinstance(value, str) and len(value) > QUOTED_MAX:
        return value[: QUOTED_MAX - 1] + "…"
    return value


class NotFoundError(TequioError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, id: str) -> None:
        super().__init__("not_found", kind=kind, id=id)


class ConflictError(TequioError):
    """A stale ``expectedVersion``, a concurrent write, or a reused idempotency key."""

    code = "CONFLICT"


class RuleViolation(TequioError):
    """A rule of the domain refused the change (the contract maps it to CONFLICT)."""

    code = "CONFLICT"


class BadInputError(TequioError):
    code = "BAD_USER_INPUT"


class ForbiddenError(TequioError):
    """The caller may not change this object (e.g. another agency's commitment)."""

    code = "FORBIDDEN"
