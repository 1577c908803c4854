"""PostgreSQL's upkeep of the event store is kept short, because every save waits for
it (ADR 0024)."""

from __future__ import annotations

import psycopg

from cases.application import TequioApplication
from cases.event_store_upkeep import STATISTICS_TARGET, UPKEEP_EVERY
from tequio.database import ConnectionInfo


def settings_of(db: ConnectionInfo, table: str) -> tuple[dict[str, str], set[int | None]]:
    with psycopg.connect(db.url()) as conn:
        options = conn.execute(
            "SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)", (table,)
        ).fetchone()
        targets = conn.execute(
            "SELECT attstattarget FROM pg_attribute"
            " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (table,),
        ).fetchall()
    assert options is not None
    return dict(o.split("=", 1) for o in options[0] or []), {t[0] for t in targets}


def test_the_events_table_is_analysed_on_a_small_sample_every_few_thousand_events(
    app: TequioApplication, db: ConnectionInfo
) -> None:
    options, targets = settings_of(db, "tequio_events")

    assert targets == {STATISTICS_TARGET}
    assert options["autovacuum_analyze_threshold"] == str(UPKEEP_EVERY)
    assert options["autovacuum_analyze_scale_factor"] == "0"
    assert options["autovacuum_vacuum_insert_threshold"] == str(UPKEEP_EVERY)
    assert options["autovacuum_vacuum_insert_scale_factor"] == "0"
