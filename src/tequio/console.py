"""What the import and export commands share: the operator's language and a progress bar."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from pydantic import ValidationError

from tequio.database import Database, DatabaseUnavailable
from tequio.projections_cli import BAR_WIDTH
from tequio.settings import Settings

LANGUAGES = ("en", "es")
# Below this many items an operation is quick: no bar, just the summary.
PROGRESS_MIN = 50


def choose_language(given: str | None) -> str:
    """``--lang`` when given, else the POSIX locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``,
    first set wins): ``es`` for any Spanish locale (``es_MX.UTF-8``), else ``en``."""
    if given:
        return "es" if given.lower().startswith("es") else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def progress_bar(
    label: str, unit: str, *, total: int, stream: TextIO | None = None
) -> Callable[[int], None]:
    """Draws ``label [#####.....] 250/500 unit`` over itself on stderr, as
    ``tequio projections rebuild`` does; does nothing for fewer than PROGRESS_MIN items.
    Call it with the number done; it ends the line when done reaches the total."""
    out = stream or sys.stderr
    shown = -1

    def show(done: int) -> None:
        nonlocal shown
        if total < PROGRESS_MIN or done == shown:
            return
        shown = done
        filled = min(BAR_WIDTH, done * BAR_WIDTH // total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        out.write(f"\r{label} [{bar}] {done}/{total} {unit}")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


@contextmanager
def opened_database(
    command: str, language: str = "en"
) -> Iterator[tuple[Settings, Database] | None]:
    """Settings and the database, or None after saying plainly why not (exit code 2),
    in ``language`` (pydantic's own description of a bad value stays in English)."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        bad = "configuración incorrecta" if language == "es" else "bad configuration"
        print(f"tequio {command}: {bad}: {problems}", file=sys.stderr)
        yield None
        return
    try:
        db = Database.open(settings)
    except DatabaseUnavailable as error:
        print(f"tequio {command}: {error.message(language)}", file=sys.stderr)
        yield None
        return
    try:
        yield settings, db
    finally:
        db.close()
