"""The catalog in the database, and the `mentoring tasklists` command."""

import csv
import io
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tasklists import catalog, files, store
from tasklists.models import TaskListTemplate, TemplateTask
from web.cli import main

from .conftest import count_rows


@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


def test_loading_the_catalog_twice_stores_it_once(db):
    first = store.load_catalog(db)
    assert all(created for _, created in first) and len(first) == len(catalog.catalog_files())
    second = store.load_catalog(db)
    assert not any(created for _, created in second)
    assert [t.id for t, _ in first] == [t.id for t, _ in second]


def test_a_changed_edition_becomes_a_new_version_and_the_old_one_is_untouched(db):
    store.load_catalog(db)
    old = db.exec(select(TaskListTemplate).where(TaskListTemplate.program == "automobile")).one()
    old_doc = store.template_doc(db, old)
    reworded = replace(old_doc, rows=(replace(old_doc.rows[0], statement="Show where every exit is."),
                                      *old_doc.rows[1:]))
    new, created = store.save_template(db, reworded, source="catalog")
    assert created and new.version == old.version + 1
    assert store.template_doc(db, old) == old_doc
    first = db.exec(select(TemplateTask).where(TemplateTask.template_id == old.id, TemplateTask.position == 0)).one()
    assert first.statement == old_doc.rows[0].statement


def test_tasklists_list_shows_all_four_programs_with_editions_and_counts(cli):
    cli("init")
    found = json.loads(cli("tasklists", "list", "--format", "json"))
    by_program = {r["program"]: r for r in found}
    assert set(by_program) == {"automobile", "medium-heavy-truck", "collision-repair-refinish",
                               "collision-estimating"}
    assert by_program["automobile"]["edition"] == "2024"
    for r in found:
        assert r["tasks"] == len(catalog.load_catalog(
            next(p for p in catalog.catalog_files() if p.name.startswith(r["program"] + "-"))).rows)
    table = cli("tasklists", "list")
    assert "automobile" in table and "2024" in table and "collision-estimating" in table


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_import_export_is_identical_for_every_catalog_list(cli, tmp_path, fmt):
    cli("init")
    for row in json.loads(cli("tasklists", "list", "--format", "json")):
        first = tmp_path / f"{row['id']}.{fmt}"
        cli("tasklists", "export", row["id"], "--format", fmt, "--out", str(first))
        out = cli("tasklists", "import", str(first))
        assert "nothing new stored" in out  # same content: the stored template is reused
        again = tmp_path / f"{row['id']}-again.{fmt}"
        template_id = out.split("template ")[1].split(";")[0]
        cli("tasklists", "export", template_id, "--format", fmt, "--out", str(again))
        assert again.read_bytes() == first.read_bytes()


def test_an_imported_new_edition_is_stored_as_a_template(cli, tmp_path, clean_db):
    cli("init")
    exported = cli("tasklists", "export", "T1", "--format", "json")
    doc = files.parse_json(exported.encode())
    path = tmp_path / "next.json"
    path.write_text(files.to_json(replace(doc, edition="2030")), encoding="utf-8")
    assert "Imported as template" in cli("tasklists", "import", str(path))
    with clean_db.session() as db:
        assert db.exec(select(TaskListTemplate).where(TaskListTemplate.edition == "2030")).one().version == 1


def _good_csv(cli) -> list[str]:
    cli("init")
    return cli("tasklists", "export", "T1", "--format", "csv").splitlines()


@pytest.mark.parametrize("breakage, line, expect", [
    ("missing column", 1, "priority"),
    ("duplicate code", 4, "code"),
    ("bad priority", 3, "priority"),
    ("unknown level", 5, "levels"),
    ("empty statement", 2, "statement"),
    ("non-utf8", 3, ""),
])
def test_a_broken_file_is_refused_with_line_numbers_and_writes_nothing(cli, tmp_path, clean_db, breakage, line,
                                                                      expect):
    lines = _good_csv(cli)[:6]
    if breakage == "missing column":
        lines[0] = lines[0].replace(",priority", "")
    elif breakage == "duplicate code":
        lines[3] = lines[1]
    elif breakage == "bad priority":
        lines[2] = lines[2].replace(",P-1,", ",P4,")
    elif breakage == "unknown level":
        lines[4] = lines[4].replace("MLR AST MAST", "MLR XYZ")
    elif breakage == "empty statement":
        cells = next(csv.reader([lines[1]]))
        cells[8] = ""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        lines[1] = buf.getvalue()
    data = ("\n".join(lines) + "\n").encode()
    if breakage == "non-utf8":
        parts = data.split(b"\n")
        parts[2] = parts[2] + b"\xff\xfe"
        data = b"\n".join(parts)
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    before = count_rows(clean_db)
    out = cli("tasklists", "import", str(path), code=1)
    assert "refused, nothing was imported" in out
    assert f"line {line}" in out and expect in out, out
    assert count_rows(clean_db) == before
