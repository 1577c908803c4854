"""``tequio import`` and ``tequio export`` through the command line's entry point.

Each test runs ``tequio.cli.main([...])`` in this process against the test
database (``DATABASE_URL`` set with monkeypatch) and reads what it printed.
Imports are judged by the events they write; exports by their columns and by
what they must never contain (a security cabinet's commitments, a reporter).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from projection_helpers import CABINET, LIGHTING, REPORTER, build_week

from cases.application import CommandContext, TequioApplication
from cases.directory import Post
from cases.ids import official_id_for
from cases.values import GovernmentLevel
from tequio.cli import main
from tequio.database import ConnectionInfo
from tequio.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
M = "iztapalapa"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def tequio(
    db: ConnectionInfo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """``tequio(*args)`` → (exit code, stdout, stderr), on the test database."""
    monkeypatch.setenv("DATABASE_URL", db.url())
    monkeypatch.setenv("TEQUIO_MUNICIPALITY", M)
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def events(db: ConnectionInfo) -> int:
    with psycopg.connect(db.url()) as conn:
        row = conn.execute("SELECT count(*) FROM tequio_events").fetchone()
        assert row is not None
        return int(row[0])


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def bad_lines(stderr: str, word: str = "line") -> list[int]:
    return [int(n) for n in re.findall(rf"^  {word} (\d+): ", stderr, re.MULTILINE)]


# -- import ---------------------------------------------------------------------------------


def borough(bad: bool) -> list[list[str]]:
    """A header and 500 rows: 10 directorates under the existing root, 490 neighbourhoods
    under them. With ``bad``, lines 57, 250 and 480 are wrong (and nothing else)."""
    rows = [["id", "name", "kind", "parent_id"]]
    for d in range(10):
        rows.append([f"dt-{d:02}", f"Dirección territorial {d}", "territorial_directorate", M])
    for n in range(490):
        rows.append([f"col-{n:03}", f"Colonia {n}", "colonia", f"dt-{n % 10:02}"])
    assert len(rows) == 501
    if bad:
        rows[57 - 1][1] = "   "  # a blank name
        rows[250 - 1][3] = "dt-nowhere"  # a parent neither in the database nor in the file
        rows[480 - 1][0] = "col-001"  # an id already given on line 13
    return rows


def test_a_bad_file_writes_nothing_and_names_every_bad_line_then_the_good_one_imports_once(
    tequio: Run, app: TequioApplication, ctx: CommandContext, db: ConnectionInfo, tmp_path: Path
) -> None:
    app.add_territory(ctx, territory_id=M, name="Iztapalapa", kind="municipality")
    before = events(db)

    code, out, err = tequio("import", "territories", str(write(tmp_path / "t.csv", borough(True))))
    assert code == 1
    assert events(db) == before
    assert out == ""
    assert bad_lines(err) == [57, 250, 480]
    assert "3 line(s) with problems; nothing was written" in err
    assert "line 57: 'name' must not be blank." in err
    assert "line 250: the parent 'dt-nowhere' is neither in the database nor in this file" in err
    assert "line 480: the id 'col-001' was already given on line 13" in err

    good = write(tmp_path / "t.csv", borough(False))
    code, out, err = tequio("import", "territories", str(good))
    assert code == 0, err
    assert events(db) == before + 500
    assert "500 rows read; 500 created, 0 updated, 0 unchanged; 500 events written." in out
    assert "import territories [##########] 500/500 rows" in err  # the progress bar

    code, out, _ = tequio("import", "territories", str(good))
    assert code == 0
    assert events(db) == before + 500
    assert "0 created, 0 updated, 500 unchanged; 0 events written." in out

    renamed = borough(False)
    renamed[3][1] = "Dirección territorial Dos"  # line 4: a new name
    renamed[20][3] = "dt-00"  # line 21: moved to another directorate
    code, out, err = tequio(
        "import", "territories", str(write(tmp_path / "t2.csv", renamed)), "--lang", "es"
    )
    assert code == 0, err
    assert "0 nuevas, 2 actualizadas, 498 sin cambios; 2 eventos escritos." in out
    assert events(db) == before + 502


def test_children_may_come_before_their_parents_and_every_reason_is_given(
    tequio: Run, app: TequioApplication, ctx: CommandContext, db: ConnectionInfo, tmp_path: Path
) -> None:
    app.add_territory(ctx, territory_id=M, name="Iztapalapa", kind="municipality")
    app.add_territory(
        ctx, territory_id="dt-a", name="A", kind="territorial_directorate", parent_id=M
    )
    before = events(db)
    ordered = write(
        tmp_path / "ordered.csv",
        [
            ["ID", "Kind", "Name", "Parent_ID", ""],  # any order, any case, a trailing comma
            ["sec-1", "section", "Sección 1", "col-1"],
            ["col-1", "colonia", "Colonia 1", "dt-b"],
            [],
            ["dt-b", "territorial_directorate", "B", M, ""],  # an empty extra cell is fine
            ["", "", "", ""],
        ],
    )
    code, out, err = tequio("import", "territories", str(ordered))
    assert code == 0, err
    assert "3 rows read; 3 created" in out
    assert events(db) == before + 3

    reasons = write(
        tmp_path / "reasons.csv",
        [
            ["id", "name", "kind", "parent_id"],
            ["not an id", "X", "colonia", ""],  # 2
            ["long", "x" * 201, "colonia", ""],  # 3
            ["nul", "Colonia\x00", "colonia", ""],  # 4
            ["loop-1", "L1", "colonia", "loop-2"],  # 5
            ["loop-2", "L2", "colonia", "loop-1"],  # 6
            ["dt-b", "B", "territorial_directorate", "sec-1"],  # 7: under its own grandchild
            ["ok", "Fine", "colonia", "dt-a", "extra"],  # 8
            ["ok-2", "Fine", "colonia", "dt-a", "", "", "   "],  # empty extra cells are fine
        ],
    )
    code, _, err = tequio("import", "territories", str(reasons), "--lang", "es")
    assert code == 1
    assert bad_lines(err, "línea") == [2, 3, 4, 5, 6, 7, 8]
    assert "7 línea(s) con problemas; no se escribió nada." in err
    assert "'not an id' no es un identificador válido para id." in err
    assert "'name' es demasiado largo: máximo 200 caracteres." in err
    assert "'name' contiene caracteres de control" in err
    assert "el territorio 'loop-1' quedaría dentro de sí mismo (loop-1 → loop-2 → loop-1)" in err
    assert "el territorio 'dt-b' quedaría dentro de sí mismo (dt-b → sec-1 → col-1 → dt-b)" in err
    assert "la fila tiene 5 campos; el encabezado tiene 4" in err
    assert events(db) == before + 3

    for content, reason in [
        ("id,name\nx,y\n", "line 1: the header has no 'kind' column (required: id, name, kind)"),
        (
            "id,name,kind,parent\n",
            "line 1: unknown column 'parent' (known: id, name, kind, parent_id)",
        ),
        ("\n\n", "line 1: the file is empty"),
        ("id,id,name,kind\n", "line 1: the column 'id' appears twice in the header"),
        ("id,name,kind,\nx,X,colonia,oops\n", "line 2: column 4 has a value but no name"),
    ]:
        path = tmp_path / "header.csv"
        path.write_text(content, encoding="utf-8")
        code, _, err = tequio("import", "territories", str(path))
        assert code == 1 and reason in err, err
    (tmp_path / "latin1.csv").write_bytes("id,name,kind\nx,Peñón,colonia\n".encode("latin-1"))
    code, _, err = tequio("import", "territories", str(tmp_path / "latin1.csv"))
    assert code == 1 and "line 2: the file is not UTF-8 text" in err
    code, _, err = tequio("import", "territories", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err
    assert events(db) == before + 3


def test_agencies_and_posts_with_references_to_the_file_and_the_database(
    tequio: Run, app: TequioApplication, ctx: CommandContext, db: ConnectionInfo, tmp_path: Path
) -> None:
    app.add_agency(
        ctx, agency_id="dgsu", name="Dirección General de Servicios Urbanos",
        level=GovernmentLevel.MUNICIPAL,
    )  # fmt: skip
    app.add_post(ctx, post_id="jefe-alumbrado", title="Jefatura de alumbrado", agency_id="dgsu")
    app.appoint_to_post(ctx, post_id="jefe-alumbrado", official_name="Jorge Sánchez")
    before = events(db)

    agencies = [
        ["id", "name", "level"],
        ["dgsu", "Dirección General de Servicios Urbanos", "MUNICIPAL"],
        ["sacmex", "Sistema de Aguas de la Ciudad de México", "ESTATAL"],
        ["colectivo", "Colectivo de Planeación", "community"],
    ]
    code, _, err = tequio("import", "agencies", str(write(tmp_path / "a.csv", agencies)))
    assert code == 1 and events(db) == before
    assert bad_lines(err) == [3]
    assert "'level' must be one of MUNICIPAL, CITY, STATE, FEDERAL, COMMUNITY; got 'ESTATAL'" in err
    agencies[2][2] = "city"
    code, out, err = tequio("import", "agencies", str(write(tmp_path / "a.csv", agencies)))
    assert code == 0, err
    assert "3 rows read; 2 created, 0 updated, 1 unchanged; 2 events written." in out

    posts = [
        ["id", "title", "agency_id", "holder"],
        ["jefe-alumbrado", "Jefatura de alumbrado", "dgsu", "Laura Gómez"],  # existing: new holder
        [
            "enlace-agua",
            "Enlace territorial de agua",
            "sacmex",
            "Rosa Martínez",
        ],  # the file's agency
        ["jefe-limpia", "Jefatura de limpia", "dgsu", ""],  # no holder yet
        ["fantasma", "Cargo", "nope", ""],
    ]
    code, _, err = tequio("import", "posts", str(write(tmp_path / "p.csv", posts)))
    assert code == 1 and events(db) == before + 2
    assert bad_lines(err) == [5]
    assert "the agency 'nope' is not in the database (import the agencies first)" in err
    posts.pop()
    code, out, err = tequio("import", "posts", str(write(tmp_path / "p.csv", posts)))
    assert code == 0, err
    # Laura appointed; enlace-agua added and Rosa appointed; jefe-limpia added.
    assert "3 rows read; 2 created, 1 updated, 0 unchanged; 4 events written." in out
    post = app.repository.get(Post.id_for(M, "jefe-alumbrado"))
    assert post.holder_id == official_id_for(M, "Laura Gómez")
    assert app.repository.get(Post.id_for(M, "enlace-agua")).agency_id == "sacmex"

    code, out, _ = tequio("import", "posts", str(write(tmp_path / "p.csv", posts)))
    assert code == 0 and events(db) == before + 6
    assert "0 created, 0 updated, 3 unchanged; 0 events written." in out

    posts[3][1] = "Jefatura de limpia y recolección"
    code, _, err = tequio("import", "posts", str(write(tmp_path / "p.csv", posts)))
    assert code == 1 and events(db) == before + 6
    assert bad_lines(err) == [4]
    assert "an import cannot rename a post" in err


def test_the_example_files_import(
    tequio: Run, db: ConnectionInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind in ("territories", "agencies", "posts"):
        code, out, err = tequio("import", kind, str(ROOT / "examples" / f"{kind}.csv"))
        assert code == 0, err
        assert "0 updated, 0 unchanged" in out
    assert events(db) == 5 + 4 + 3 + 2  # two posts come with their holder

    monkeypatch.setenv("DATABASE_URL", "postgresql://tequio:x@127.0.0.1:9/tequio")
    code, _, err = tequio("import", "territories", str(ROOT / "examples" / "territories.csv"))
    assert code == 2 and "cannot reach PostgreSQL" in err and "Traceback" not in err


def test_an_unreachable_database_is_reported_in_the_operators_language(
    tequio: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://tequio:x@127.0.0.1:9/tequio")
    file = str(ROOT / "examples" / "territories.csv")
    code, _, err = tequio("import", "territories", file, "--lang", "es")
    assert code == 2 and "no se puede conectar con PostgreSQL (tequio en 127.0.0.1:9)" in err
    code, _, err = tequio("export", "cases", "--lang", "es")
    assert code == 2 and "no se puede conectar con PostgreSQL" in err

    monkeypatch.setenv("DATABASE_URL", "mysql://tequio@127.0.0.1/tequio")
    code, _, err = tequio("export", "cases", "--lang", "es")
    assert code == 2 and "DATABASE_URL debe empezar con postgresql://" in err


# -- export ---------------------------------------------------------------------------------

CASE_COLUMNS = [
    "id", "title", "description", "theme", "priority", "status", "territory_id",
    "territory_name", "assembly_id", "raised_at", "updated_at", "table_ids", "table_names",
    "merged_into", "referred_to",
]  # fmt: skip
COMMITMENT_COLUMNS = [
    "id", "case_id", "case_title", "description", "status", "progress", "agreed_on", "due_on",
    "made_at", "updated_at", "overdue", "days_overdue", "reschedules", "disputes",
    "fulfilled_on", "validated_at", "responsible_agency_id", "responsible_agency_name",
    "responsible_agency_level", "post_id", "post_title", "accountable_name",
    "accountable_when_made_name", "table_id", "table_name", "table_kind", "territory_id",
    "territory_name", "assembly_id",
]  # fmt: skip
SCORECARD_COLUMNS = [
    "agency_id", "agency_name", "agency_level", "made", "fulfilled", "validated", "on_time",
    "overdue", "reschedules", "median_days_to_fulfil",
]  # fmt: skip


def read_csv(content: str, delimiter: str = ",") -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_exports_are_the_public_view_and_nothing_more(
    tequio: Run, app: TequioApplication, ctx: CommandContext, tmp_path: Path
) -> None:
    week = build_week(app, ctx)  # no projection runs: the export brings them up to date
    cabinet = {week.commitments["patrols"], week.commitments["complaints"]}
    public = {week.commitments[k] for k in ("lamps", "dump", "cleanup", "truck")}
    outputs: list[str] = []

    def export(*args: str) -> str:
        code, out, err = tequio("export", *args)
        assert code == 0, err
        outputs.append(out)
        return out

    columns, rows = read_csv(export("commitments"))
    assert columns == COMMITMENT_COLUMNS
    assert {r["id"] for r in rows} == public
    lamps = next(r for r in rows if r["id"] == week.commitments["lamps"])
    assert lamps["accountable_name"] == "Laura Gómez"
    assert lamps["accountable_when_made_name"] == "Jorge Sánchez"
    assert lamps["table_name"] == "Alumbrado y espacio público"
    assert lamps["status"] == "VALIDATED" and lamps["progress"] == "100"
    assert lamps["made_at"].endswith("-06:00")  # local time, with its offset

    document = json.loads(export("commitments", "--format", "json"))
    assert document["kind"] == "commitments" and document["count"] == 4
    assert document["fields"] == COMMITMENT_COLUMNS
    assert all(list(r) == COMMITMENT_COLUMNS for r in document["rows"])
    assert {r["id"] for r in document["rows"]} == public
    assert {r["table_kind"] for r in document["rows"]} <= {"WORKING_TABLE", "TECHNICAL_TABLE"}

    columns, rows = read_csv(export("cases"))
    assert columns == CASE_COLUMNS
    assert {r["id"] for r in rows} == set(week.cases.values())
    dark_street = next(r for r in rows if r["id"] == week.cases["a"])
    assert dark_street["table_ids"] == LIGHTING  # the cabinet it was routed to is not shown
    document = json.loads(export("cases", "--format", "json"))
    assert next(r for r in document["rows"] if r["id"] == week.cases["a"])["table_ids"] == [
        LIGHTING
    ]

    target = tmp_path / "scorecards.json"
    code, out, err = tequio(
        "export", "scorecards", "--format", "json", "--output", str(target), "--lang", "es"
    )
    assert code == 0 and out == ""
    assert f"se exportaron 4 indicadores de áreas de {M}" in err
    outputs.append(target.read_text(encoding="utf-8"))
    document = json.loads(outputs[-1])
    assert document["fields"] == SCORECARD_COLUMNS
    # ssc and fiscalia made commitments only at the security cabinet: no scorecard at all.
    assert [r["agency_id"] for r in document["rows"]] == ["colectivo", "dgsu", "obras", "sacmex"]
    columns, rows = read_csv(export("scorecards"))
    assert columns == SCORECARD_COLUMNS and len(rows) == 4

    everything = "\n".join(outputs)
    for commitment_id in cabinet:
        assert commitment_id not in everything
    assert "Patrullajes" not in everything and "denuncias" not in everything
    assert CABINET not in everything
    assert "Camino Real" in everything  # the case itself is public
    for value in REPORTER.values():
        assert value not in everything


def test_decidim_results_columns_and_values(
    tequio: Run, app: TequioApplication, ctx: CommandContext
) -> None:
    week = build_week(app, ctx)
    code, out, err = tequio("export", "decidim-results")
    assert code == 0, err
    columns, rows = read_csv(out, delimiter=";")
    assert columns == [
        "id", "category/id", "scope/id", "parent/id", "title/es", "description/es",
        "start_date", "end_date", "status/id", "progress", "proposal_urls", "external_id",
        "weight",
    ]  # fmt: skip
    assert len(rows) == 4
    assert {r["status/id"] for r in rows} == {""}  # no status map given
    assert week.commitments["patrols"] not in out and REPORTER["name"] not in out

    code, out, err = tequio(
        "export", "decidim-results", "--locales", "es,en", "--status-map", "VALIDATED=7,OPEN=1",
        "--status-map", "in_progress=2",
    )  # fmt: skip
    assert code == 0, err
    columns, rows = read_csv(out, delimiter=";")
    assert columns[4:8] == ["title/es", "title/en", "description/es", "description/en"]
    lamps = next(r for r in rows if r["external_id"] == week.commitments["lamps"])
    today = week.today
    assert lamps == {
        "id": "",
        "parent/id": "",
        "category/id": "",
        "scope/id": "",
        "title/es": "Calle Camino Real sin alumbrado",
        "title/en": "Calle Camino Real sin alumbrado",
        "description/es": "<p>Reparar 12 lámparas del alumbrado público</p>"
        "<p>Responsable: Dirección General de Servicios Urbanos. Estado: validado.</p>",
        "description/en": lamps["description/es"],
        "start_date": (today - timedelta(days=2)).isoformat(),
        "end_date": (today + timedelta(days=3)).isoformat(),
        "status/id": "7",
        "progress": "100",
        "proposal_urls": "",
        "external_id": week.commitments["lamps"],
        "weight": "",
    }
    dump = next(r for r in rows if r["external_id"] == week.commitments["dump"])
    assert dump["status/id"] == "1" and dump["progress"] == "0"


def test_an_export_of_an_empty_database_has_only_its_header(tequio: Run) -> None:
    code, out, err = tequio("export", "commitments")  # no event, no read-model table yet
    assert code == 0, err
    assert read_csv(out) == (COMMITMENT_COLUMNS, [])
    code, out, err = tequio("export", "cases", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["rows"] == []
    code, _, err = tequio("export", "decidim-results", "--format", "json")
    assert code == 2 and "use --format csv" in err
    code, _, err = tequio("export", "decidim-results", "--status-map", "DONE=1")
    assert code == 2 and "'DONE=1' is not STATUS=ID" in err


@pytest.mark.parametrize("actor", ["", "   ", "a\x01b", "x" * 201])
def test_an_import_refuses_an_actor_that_is_not_a_name_and_writes_nothing(
    tequio: Run, db: ConnectionInfo, tmp_path: Path, actor: str
) -> None:
    # The actor goes into every event, the feed and webhooks.
    before = events(db)
    rows = [["id", "name", "kind"], [M, "Iztapalapa", "municipality"]]
    code, _, err = tequio(
        "import",
        "territories",
        str(write(tmp_path / "t.csv", rows)),
        "--actor",
        actor,
        "--lang",
        "es",
    )
    assert code == 2
    assert "--actor debe ser un nombre de 1 a 200 caracteres" in err
    assert events(db) == before


def test_export_options_are_checked_in_the_chosen_language(tequio: Run) -> None:
    code, _, err = tequio("export", "decidim-results", "--status-map", "OPEN=x", "--lang", "es")
    assert code == 2
    assert "el id de un estado de Decidim es un entero positivo" in err
    code, _, err = tequio("export", "decidim-results", "--locales", "es,??", "--lang", "es")
    assert code == 2 and "--locales: no es un idioma: ??" in err
    for delimiter in ('"', ";;", "\n"):
        code, _, err = tequio("export", "decidim-results", "--delimiter", delimiter)
        assert code == 2
        assert "--delimiter must be one character other than a quote or a line break" in err


@pytest.mark.parametrize("wait", ["-1", "nan"])
def test_an_export_refuses_a_wait_that_is_not_seconds(tequio: Run, wait: str) -> None:
    code, out, err = tequio("export", "cases", "--wait", wait)
    assert code == 2 and out == ""
    assert "--wait is a number of seconds, 0 or more" in err


def test_a_json_export_is_stamped_in_the_municipalitys_time(tequio: Run) -> None:
    code, out, err = tequio("export", "cases", "--format", "json")
    assert code == 0, err
    stamped = datetime.fromisoformat(json.loads(out)["exported_at"])
    zone = Settings().zone
    assert stamped.utcoffset() == datetime.now(zone).utcoffset() != timedelta(0)


def test_an_export_through_a_link_replaces_the_file_and_keeps_the_link_and_its_mode(
    tequio: Run, tmp_path: Path
) -> None:
    published = tmp_path / "cases-2026-11.csv"
    published.write_text("old\n", encoding="utf-8")
    published.chmod(0o640)
    latest = tmp_path / "latest.csv"
    latest.symlink_to(published)
    code, _, _ = tequio("export", "cases", "--output", str(latest))
    assert code == 0
    assert latest.is_symlink() and latest.resolve() == published
    assert published.read_text(encoding="utf-8").startswith("id,")
    assert stat.S_IMODE(published.stat().st_mode) == 0o640


def test_a_new_export_file_is_readable_as_the_umask_allows(tequio: Run, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        code, _, _ = tequio("export", "cases", "--output", str(tmp_path / "cases.csv"))
    finally:
        os.umask(umask)
    assert code == 0
    assert stat.S_IMODE((tmp_path / "cases.csv").stat().st_mode) == 0o644


def test_an_export_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(
    tequio: Run, tmp_path: Path
) -> None:
    pipe = tmp_path / "cases.pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")))
    reader.start()
    code, _, err = tequio("export", "cases", "--output", str(pipe))
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert received and received[0].startswith("id,")


class ClosedPipe(io.StringIO):
    """Standard output read by `head`, which has stopped reading."""

    def __init__(self) -> None:
        super().__init__()
        self.read_end, self.write_end = os.pipe()

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        return self.write_end


def test_an_export_piped_to_a_reader_that_stops_ends_quietly(
    tequio: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = ClosedPipe()
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        code, _, err = tequio("export", "cases")
        assert code == 0
        assert err == ""  # no "cannot write None: Broken pipe", no summary
    finally:
        os.close(closed.read_end)
        os.close(closed.write_end)
