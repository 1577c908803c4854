"""The application for ``tequio serve --workers N``: each server process builds its own.

uvicorn starts the processes and imports this module in each; ``app()`` is the
factory it calls there. ``tequio serve`` has already found PostgreSQL (started the
embedded server, when there is no ``DATABASE_URL``) and passes it down as
``DATABASE_URL``, so the processes share one server and never start their own.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from api.app import create_app
from tequio.settings import Settings, tune_interpreter

# Set by ``tequio serve`` for the processes it starts: "0" with ``--no-projections``.
RUN_PROJECTIONS = "TEQUIO_SERVE_PROJECTIONS"


def app() -> FastAPI:
    """Every process may run the projections: each projection's advisory lock lets one
    process run it while the others stand by (so the runners spread over them)."""
    settings = Settings()
    tune_interpreter(settings)
    return create_app(
        settings,
        run_projections=os.environ.get(RUN_PROJECTIONS, "1") != "0",
        freeze_heap_when_ready=True,
    )
