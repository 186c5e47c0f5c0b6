"""Task lists as CASE 1.1 frameworks: the export validates against the official CFPackage JSON Schema, round-trips
the catalog, keeps its identifiers, crosswalks editions, and is served read-only at the CASE REST paths."""

import json
import uuid
from dataclasses import replace
from pathlib import Path

from jsonschema import Draft201909Validator, FormatChecker

from exports import case, credentials
from mentoring.access.policy import Actor
from mentoring.progress import customize
from tasklists import catalog, store

from .conftest import actor_for
from .test_credentials import BASE, issue, sign_area

ROOT = Path(__file__).resolve().parent.parent
# The official schema as published beside the repository (1EdTech OpenCASE), falling back to the vendored copy.
SCHEMA = next(p for p in (ROOT.parent / "shared/standards/case/case-v1p1-cfpackage.json",
                          ROOT / "exports/schemas/case-v1p1-cfpackage.json") if p.exists())
VALIDATOR = Draft201909Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
API = "/ims/case/v1p1"
OPERATOR = Actor(None, "test", True)


def valid(package: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(package)]
    assert errors == [], errors[:5]


def path_of(uri: str) -> str:
    assert uri.startswith(BASE + API + "/"), uri
    return uri.removeprefix(BASE)


def test_every_catalog_program_exports_a_valid_package_that_round_trips(clean_db, browser):
    with clean_db.transaction() as db:
        store.load_catalog(db)
    listing = browser.get(f"{API}/CFDocuments")
    assert listing.status_code == 200 and listing.headers["access-control-allow-origin"] == "*"
    documents = listing.json()["CFDocuments"]
    expected = {(d.program, d.edition): d for d in catalog.load_all()}
    assert {(d["extensions"]["program"], d["extensions"]["edition"]) for d in documents} == set(expected)
    assert len(expected) == 4
    for document in documents:
        response = browser.get(f"{API}/CFPackages/{document['identifier']}")
        assert response.status_code == 200, response.text[:300]
        package = response.json()
        valid(package)
        doc = expected[(document["extensions"]["program"], document["extensions"]["edition"])]
        back = case.from_package(package)
        assert back.rows == doc.rows  # codes, statements, area and section titles, priorities, levels, in order
        assert (back.program, back.title, back.edition, back.levels, back.coverage_rule) == (
            doc.program, doc.title, doc.edition, doc.levels, doc.coverage_rule)
        items = package["CFItems"]
        kinds = [i["CFItemType"] for i in items]
        assert kinds.count("Task") == len(doc.rows)
        assert kinds.count("Area") == len({r.area_code for r in doc.rows})
        assert kinds.count("Section") == len({(r.area_code, r.section_code) for r in doc.rows})
        # Every item hangs in the tree exactly once.
        parents = [a["originNodeURI"]["identifier"] for a in package["CFAssociations"]
                   if a["associationType"] == "isChildOf"]
        assert sorted(parents) == sorted(i["identifier"] for i in items)


def test_identifiers_and_dates_come_from_the_list_not_the_run(clean_db):
    with clean_db.transaction() as db:
        template = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
        first = case.frameworks(db, BASE, set())
        case._BUILT._items.clear()  # build again from scratch, as another process would
        case._DOCS._items.clear()
        second = case.frameworks(db, BASE, set())
    assert [f.body for f in first] == [f.body for f in second]
    package = next(f.package for f in first if f.source.key == "catalog:automobile:2024")
    task = next(i for i in package["CFItems"] if i["humanCodingScheme"] == "V.B.3")
    assert task["identifier"] == str(uuid.uuid5(case.NAMESPACE, "catalog:automobile:2024/task/V.B.3"))
    assert task["uri"] == case.catalog_item_uri(BASE, "automobile", "2024", "task", "V.B.3")
    assert task["lastChangeDateTime"] == package["CFDocument"]["lastChangeDateTime"] == case._stamp(
        template.created_at)
    assert task["extensions"] == {"priority": next(r.priority for r in case.from_package(package).rows
                                                   if r.code == "V.B.3"), "levels": ["MLR", "AST", "MAST"]}


def test_items_documents_and_associations_resolve_and_unknown_ids_are_404_json(clean_db, browser):
    with clean_db.transaction() as db:
        store.load_catalog(db)
        framework = next(f for f in case.frameworks(db, BASE, set()) if f.source.doc.program == "collision-estimating")
    package = framework.package
    task = next(i for i in package["CFItems"] if i["CFItemType"] == "Task")
    got = browser.get(path_of(task["uri"]))
    assert got.status_code == 200
    body = got.json()
    assert body["fullStatement"] == task["fullStatement"]
    assert body["CFDocumentURI"]["uri"] == package["CFDocument"]["uri"]
    document = browser.get(path_of(package["CFDocument"]["uri"])).json()
    assert browser.get(path_of(document["CFPackageURI"]["uri"])).json() == package
    association = package["CFAssociations"][0]
    assert browser.get(path_of(association["uri"])).json()["associationType"] == "isChildOf"
    # An ETag lets aligning systems poll cheaply.
    etag = got.headers["etag"]
    assert browser.get(path_of(task["uri"]), headers={"If-None-Match": etag}).status_code == 304
    for path in (f"{API}/CFItems/{uuid.uuid4()}", f"{API}/CFPackages/{uuid.uuid4()}", f"{API}/CFDocuments/nope",
                 f"{API}/CFItems/{package['CFDocument']['identifier']}",  # a document is not an item
                 f"{API}/CFAssociations/{task['identifier']}"):
        missing = browser.get(path)
        assert missing.status_code == 404 and missing.json()["imsx_codeMajor"] == "failure", path


def test_a_new_edition_crosswalks_to_the_old_one_with_exact_matches(clean_db):
    automobile = next(d for d in catalog.load_all() if d.program == "automobile")
    renumbered = {"V.B.3"}
    old_rows = tuple(replace(r, code=f"{r.area_code}.{r.section_code}.99") if r.code in renumbered else r
                     for r in automobile.rows)
    old = replace(automobile, edition="2017", rows=old_rows)
    with clean_db.transaction() as db:
        store.load_catalog(db)
        store.save_template(db, old, source="import")
        found = {f.source.key: f.package for f in case.frameworks(db, BASE, set())}
    new_package, old_package = found["catalog:automobile:2024"], found["catalog:automobile:2017"]
    valid(new_package)
    valid(old_package)
    matches = [a for a in new_package["CFAssociations"] if a["associationType"] == "exactMatchOf"]
    pairs = {(a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"]) for a in matches}
    assert len(pairs) == len(automobile.rows) - 1  # V.B.99 (old) and V.B.3 (new) have no counterpart
    v_b_1 = (case.item_id("catalog:automobile:2024", "task", "V.B.1"), case.item_id("catalog:automobile:2017",
                                                                                     "task", "V.B.1"))
    assert v_b_1 in pairs
    assert not any(o == case.item_id("catalog:automobile:2024", "task", "V.B.3") for o, _ in pairs)
    assert pairs == {(a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
                     for a in old_package["CFAssociations"] if a["associationType"] == "exactMatchOf"}
    # Other programs have one edition and no crosswalk.
    assert not any(a["associationType"] == "exactMatchOf"
                   for a in found["catalog:collision-estimating:2021"]["CFAssociations"])


def test_a_published_shop_list_exports_for_its_shop_only_and_drafts_never(clean_db, world, browser):
    manager = actor_for(clean_db, world.manager)
    with clean_db.transaction() as db:
        automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
        task_list = customize.start_list(db, manager, world.shop, template_id=automobile.id, level="MLR",
                                         name="Riverside MLR")
        customize.edit_task(db, manager, task_list, "I.A.2", "not_applicable", {"na_reason": "Engines go out"})
        customize.add_shop_task(db, manager, task_list, {"section": "V.B", "statement": "Log every brake job.",
                                                         "priority": "P-1"})
        list_id = task_list.id
    doc_id = case.document_id(case.shop_list_key(list_id))
    browser.login(world.manager.email)
    # Only a draft so far: nothing to serve.
    assert doc_id not in {d["identifier"] for d in browser.get(f"{API}/CFDocuments").json()["CFDocuments"]}
    assert browser.get(f"{API}/CFPackages/{doc_id}").status_code == 404
    assert f"/CFPackages/{doc_id}" not in browser.get(f"/tasklists/{list_id}").text
    with clean_db.transaction() as db:
        customize.publish(db, manager, customize.get_list(db, manager, list_id))
        customize.edit_task(db, manager, customize.get_list(db, manager, list_id), "I.A.3", "not_applicable",
                            {"na_reason": "A later draft"})
    assert f"{API}/CFPackages/{doc_id}" in browser.get(f"/tasklists/{list_id}").text  # the list page links it
    listing = browser.get(f"{API}/CFDocuments")
    assert doc_id in {d["identifier"] for d in listing.json()["CFDocuments"]}
    assert "private" in listing.headers["cache-control"]
    response = browser.get(f"{API}/CFPackages/{doc_id}")
    assert response.status_code == 200
    package = response.json()
    valid(package)
    rows = {r.code: r for r in case.from_package(package).rows}
    assert rows["I.A.2"].not_applicable and rows["I.A.2"].na_reason == "Engines go out"
    assert not rows["I.A.3"].not_applicable  # the published version, not the draft after it
    shop_code = next(code for code in rows if code.startswith("S."))
    assert rows[shop_code].statement == "Log every brake job." and rows[shop_code].section_code == "B"
    # Standard tasks are the catalog's own items; the shop's task is not.
    matches = {a["originNodeURI"]["title"].split()[0]: a["destinationNodeURI"] for a in package["CFAssociations"]
               if a["associationType"] == "exactMatchOf"}
    assert matches["V.B.1"]["identifier"] == case.item_id("catalog:automobile:2024", "task", "V.B.1")
    assert shop_code not in matches
    item = next(i for i in package["CFItems"] if i["humanCodingScheme"] == shop_code)
    assert browser.get(path_of(item["uri"])).status_code == 200
    browser.logout()
    # Not public, and not another shop's.
    assert browser.get(f"{API}/CFPackages/{doc_id}").status_code == 404
    assert browser.get(path_of(item["uri"])).status_code == 404
    browser.login(world.other_manager.email)
    assert browser.get(f"{API}/CFPackages/{doc_id}").status_code == 404
    assert doc_id not in {d["identifier"] for d in browser.get(f"{API}/CFDocuments").json()["CFDocuments"]}


def test_badge_alignments_point_at_case_items_that_resolve(clean_db, world, assigned, browser):
    sign_area(clean_db, world, assigned, "VIII", rating=4)
    issued = issue(clean_db, world.manager, assigned)
    vc = credentials.payload_of(next(c for c in issued if c.achievement_key == "area:VIII").token)
    alignment = vc["credentialSubject"]["achievement"]["alignment"]
    assert credentials.schema_errors(vc) == []
    assert {a["targetType"] for a in alignment} == {"CFItem"}
    for entry in alignment[:3]:
        item = browser.get(path_of(entry["targetUrl"]))
        assert item.status_code == 200
        assert item.json()["humanCodingScheme"] == entry["targetCode"]
        assert entry["targetFramework"].startswith("ASE Education Foundation")


def test_the_cli_writes_a_program_package_and_refuses_an_unpublished_list(clean_db, world, database_url, tmp_path,
                                                                          monkeypatch):
    from click.testing import CliRunner

    from web.cli import main

    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_BASE_URL", BASE)
    manager = actor_for(clean_db, world.manager)
    with clean_db.transaction() as db:
        template = next(t for t, _ in store.load_catalog(db) if t.program == "collision-estimating")
        draft = customize.start_list(db, manager, world.shop, template_id=template.id, level="CDE", name="Draft")
    runner = CliRunner()
    result = runner.invoke(main, ["tasklists", "case", "collision-estimating"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    package = json.loads(result.output)
    valid(package)
    assert package["CFDocument"]["identifier"] == case.document_id("catalog:collision-estimating:2021")
    refused = runner.invoke(main, ["tasklists", "case", f"L{draft.id}"])
    assert refused.exit_code == 1 and "not published" in refused.output
