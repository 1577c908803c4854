"""graphql-core's and strawberry's refusals of a malformed request, in Spanish.

Parse, validation and variable errors come from graphql-core (and the depth and
alias limits from strawberry) in English only. Staff read them in GraphiQL, so for
``Accept-Language: es-MX`` each known shape is said in Spanish; the names it quotes
(fields, types, variables, values) stay as they are. A message of a shape not known
here stays in English rather than be guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_SUGGESTION = re.compile(r" Did you mean (?P<options>.+)\?$")


def _rules() -> list[Rule]:
    def rule(pattern: str, spanish: str) -> Rule:
        return re.compile(pattern, re.DOTALL), lambda m: spanish.format(**m.groupdict())

    q = r"'(?P<{}>[^']*)'"  # a quoted name
    return [
        (
            re.compile(r"^Variable '(?P<v>[^']*)' has invalid value: (?P<rest>.*)$", re.DOTALL),
            lambda m: (
                f"La variable '{m['v']}' tiene un valor no válido: "
                + _lower_first(in_spanish(m["rest"]))
            ),
        ),
        (
            re.compile(
                r"^Variable '(?P<v>[^']*)' has invalid value at (?P<at>\S+): (?P<rest>.*)$",
                re.DOTALL,
            ),
            lambda m: (
                f"La variable '{m['v']}' tiene un valor no válido en {m['at']}: "
                + _lower_first(in_spanish(m["rest"]))
            ),
        ),
        rule(
            rf"^Cannot query field {q.format('f')} on type {q.format('t')}\.$",
            "No se puede consultar el campo '{f}' en el tipo '{t}'.",
        ),
        rule(
            rf"^Value {q.format('v')} does not exist in {q.format('e')} enum\.$",
            "El valor '{v}' no existe en la enumeración '{e}'.",
        ),
        rule(
            rf"^Expected a value of non-null type {q.format('t')} to be provided\.$",
            "Falta un valor del tipo no nulo '{t}'.",
        ),
        (
            re.compile(r"^Value cannot represent a (?P<t>\w+): (?P<rest>.*)$", re.DOTALL),
            lambda m: f"El valor no puede representar un {m['t']}: {_python_reason(m['rest'])}",
        ),
        rule(
            rf"^Argument {q.format('a')} of type {q.format('t')} is required, "
            r"but it was not provided\.$",
            "Falta el argumento obligatorio '{a}', de tipo '{t}'.",
        ),
        rule(
            rf"^Unknown argument {q.format('a')} on field {q.format('f')}\.$",
            "El campo '{f}' no tiene el argumento '{a}'.",
        ),
        (
            re.compile(r"^Syntax Error: (?P<rest>.*)$", re.DOTALL),
            lambda m: f"Error de sintaxis: {_syntax_reason(m['rest'])}",
        ),
        rule(
            r"^Int cannot represent non 32-bit signed integer value: (?P<v>.*)$",
            "Int no puede representar un valor fuera de los enteros de 32 bits: {v}",
        ),
        rule(
            rf"^Expected value of non-null type {q.format('t')} not to be None\.$",
            "El valor del tipo no nulo '{t}' no puede ser nulo.",
        ),
        rule(
            r"^(?P<t>\w+) cannot represent non-integer value: (?P<v>.*)$",
            "{t} no puede representar un valor que no es entero: {v}",
        ),
        rule(
            r"^(?P<t>\w+) cannot represent a non (?P<kind>\w+) value: (?P<v>.*)$",
            "{t} no puede representar un valor que no es {kind}: {v}",
        ),
        rule(
            rf"^Enum {q.format('e')} cannot represent non-enum value: (?P<v>.*)$",
            "La enumeración '{e}' no puede representar un valor que no es suyo: {v}",
        ),
        rule(
            r"^This anonymous operation must be the only defined operation\.$",
            "Una operación sin nombre debe ser la única del documento.",
        ),
        rule(
            rf"^Field {q.format('f')} of type {q.format('t')} must have a selection "
            r"of subfields\.$",
            "El campo '{f}', de tipo '{t}', debe seleccionar subcampos.",
        ),
        rule(
            rf"^Field {q.format('f')} must not have a selection since type "
            rf"{q.format('t')} has no subfields\.$",
            "El campo '{f}' no admite una selección: el tipo '{t}' no tiene subcampos.",
        ),
        rule(rf"^Variable {q.format('v')} is never used\.$", "La variable '{v}' no se usa."),
        rule(
            rf"^Variable {q.format('v')} is never used in operation {q.format('o')}\.$",
            "La variable '{v}' no se usa en la operación '{o}'.",
        ),
        rule(
            rf"^Variable {q.format('v')} is not defined\.$",
            "La variable '{v}' no está declarada.",
        ),
        rule(rf"^Fragment {q.format('f')} is never used\.$", "El fragmento '{f}' no se usa."),
        rule(rf"^Unknown type {q.format('t')}\.$", "El tipo '{t}' no existe."),
        rule(rf"^Unknown fragment {q.format('f')}\.$", "El fragmento '{f}' no existe."),
        rule(
            rf"^Expected value of type {q.format('t')} not to include unknown field "
            rf"{q.format('f')}, found: (?P<x>.*)\.$",
            "El valor de tipo '{t}' incluye el campo desconocido '{f}': {x}.",
        ),
        rule(
            rf"^Variable {q.format('v')} of required type {q.format('t')} was not provided\.$",
            "Falta la variable obligatoria '{v}', de tipo '{t}'.",
        ),
        rule(
            rf"^Field {q.format('f')} of required type {q.format('t')} was not provided\.$",
            "Falta el campo obligatorio '{f}', de tipo '{t}'.",
        ),
        rule(
            rf"^{q.format('o')} exceeds maximum operation depth of (?P<n>\d+)$",
            "'{o}' excede la profundidad máxima de {n} niveles.",
        ),
        rule(
            r"^(?P<n>\d+) aliases found\. Allowed: (?P<m>\d+)$",
            "Hay {n} alias en el documento; se permiten {m}.",
        ),
    ]


_RULES = _rules()

# graphql-core's names for the tokens a syntax error quotes.
_TOKENS = {"<EOF>": "el fin del documento", "Name": "un nombre"}


def _token(text: str) -> str:
    return _TOKENS.get(text, text)


def _syntax_reason(reason: str) -> str:
    """The parser's reason, for the shapes it mostly gives; others stay as they came."""
    expected = re.match(r"^Expected (?P<a>.+?), found (?P<b>.+?)\.$", reason, re.DOTALL)
    if expected:
        return f"se esperaba {_token(expected['a'])} y se encontró {_token(expected['b'])}."
    unexpected = re.match(r"^Unexpected (?P<b>.+?)\.$", reason, re.DOTALL)
    if unexpected:
        return f"no se esperaba {_token(unexpected['b'])}."
    if reason == "Unterminated string.":
        return "una cadena no está cerrada."
    return reason


# strawberry's reasons for refusing an HTTP request before it runs.
TRANSPORT_REASONS = {
    "Batching is not enabled": "no se aceptan varias operaciones en una solicitud (lotes)",
    "No GraphQL query found in the request": "la solicitud no trae un documento GraphQL",
    "Unable to parse request body as JSON": "el cuerpo de la solicitud no es JSON válido",
    "Unsupported content type": "el tipo de contenido no se admite",
    "Too many operations": "demasiadas operaciones",
    "Unable to parse the multipart body": "no se pudo leer el cuerpo multipart",
    "File(s) missing in form data": "faltan archivos en el formulario",
    "GraphQL only supports GET and POST requests.": "GraphQL solo admite GET y POST",
    "Can't get GraphQL operation type": "el documento no tiene ninguna operación",
    "mutations are not allowed when using GET": "las mutaciones no se admiten por GET",
    "subscriptions are not allowed when using GET": "las suscripciones no se admiten por GET",
    "The GraphQL operation's `query` must be a string or null, if provided.": (
        "`query` debe ser una cadena o null"
    ),
    "The GraphQL operation's `variables` must be an object or null, if provided.": (
        "`variables` debe ser un objeto o null"
    ),
    "The GraphQL operation's `extensions` must be an object or null, if provided.": (
        "`extensions` debe ser un objeto o null"
    ),
}


def without_suggestion(message: str) -> str:
    """``message`` without graphql-core's " Did you mean ...?" hint."""
    found = _SUGGESTION.search(message)
    return message[: found.start()] if found else message


def in_spanish(message: str) -> str:
    """``message`` in Spanish when its shape is known; otherwise as it came."""
    suggestion = _SUGGESTION.search(message)
    if suggestion:
        message = message[: suggestion.start()]
    for pattern, spanish in _RULES:
        match = pattern.match(message)
        if match:
            message = spanish(match)
            break
    if suggestion:
        options = suggestion["options"].replace(" or ", " o ")
        options = options.replace("the enum value ", "el valor ")
        message += f" ¿Quiso decir {options}?"
    return message


# The reasons Python (``Date``) and dateutil's ISO parser (``DateTime``) give for a date
# or time they cannot read, as the scalars pass them on.
PYTHON_REASONS = (
    (re.compile(r"month must be in 1\.\.12"), "el mes debe estar entre 1 y 12"),
    (re.compile(r"day is out of range for month"), "el día no existe en ese mes"),
    (re.compile(r"hour must be in 0\.\.23"), "la hora debe estar entre 0 y 23"),
    (re.compile(r"minute must be in 0\.\.59"), "el minuto debe estar entre 0 y 59"),
    (re.compile(r"second must be in 0\.\.59"), "el segundo debe estar entre 0 y 59"),
    (re.compile(r"year (-?\d+) is out of range"), r"el año \1 está fuera de rango"),
    (re.compile(r"Invalid isoformat string"), "no es una fecha ISO 8601"),
    (re.compile(r"Expected (\d+) digits, got"), r"se esperaban \1 dígitos y llegó"),
    (re.compile(r"Expected (\d+) digits"), r"se esperaban \1 dígitos"),
    (
        re.compile(r"ISO-8601 strings should contain only ASCII characters"),
        "una fecha ISO 8601 solo lleva caracteres ASCII",
    ),
    (re.compile(r"String contains unknown ISO components"), "sobran caracteres tras la fecha"),
    (re.compile(r"Unused components in ISO string"), "sobran caracteres tras la hora"),
    (re.compile(r"ISO string too short"), "la fecha está incompleta"),
    (re.compile(r"ISO time too short"), "la hora está incompleta"),
    (re.compile(r"Invalid common month"), "el mes no es válido"),
    (re.compile(r"Invalid common day"), "el día no es válido"),
    (re.compile(r"Invalid ISO format"), "no es una fecha ISO 8601"),
    (re.compile(r"Invalid separator in ISO string"), "el separador de la fecha no es válido"),
    (re.compile(r"Inconsistent use of dash separator"), "los guiones no son constantes"),
    (re.compile(r"Inconsistent use of colon separator"), "los dos puntos no son constantes"),
    (
        re.compile(r"Invalid ordinal day (\d+) for year (\d+)"),
        r"el año \2 no tiene un día \1",
    ),
    (re.compile(r"Invalid ordinal day"), "el día del año no es válido"),
    (re.compile(r"Invalid week: (\d+)"), r"la semana \1 no es válida"),
    (re.compile(r"Invalid weekday: (\d+)"), r"el día de la semana \1 no es válido"),
    (
        re.compile(r"Hour may only be 24 at 24:00:00\.000"),
        "la hora 24 solo es válida como 24:00:00.000",
    ),
    (
        re.compile(r"Time zone offset must be 1, 3, 5 or 6 characters"),
        "el desfase horario debe tener 1, 3, 5 o 6 caracteres",
    ),
    (re.compile(r"Time zone offset requires sign"), "el desfase horario necesita su signo"),
    (
        re.compile(r"Invalid minutes in time zone offset"),
        "los minutos del desfase horario no son válidos",
    ),
    (
        re.compile(r"Invalid hours in time zone offset"),
        "las horas del desfase horario no son válidas",
    ),
)


def _python_reason(text: str) -> str:
    for pattern, spanish in PYTHON_REASONS:
        text = pattern.sub(spanish, text)
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def transport_reason(reason: str, language: str) -> str:
    if language != "es":
        return reason
    unknown = re.match(r'^Unknown operation named "(?P<name>.*)"\.$', reason, re.DOTALL)
    if unknown:
        return f'el documento no tiene ninguna operación llamada "{unknown["name"]}"'
    return TRANSPORT_REASONS.get(reason, reason)
