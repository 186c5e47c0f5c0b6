"""Task lists as CASE 1.1 competency frameworks: one CFPackage per catalog edition and per published shop list.

Every identifier is a UUID derived from what it names (program, edition and code, or the shop list and code), so
an item keeps its identifier and URI from one run, server restart or new edition to the next, and a badge's
alignment can point at it for good. Dates come from the stored lists, never from the clock, so the same list
always exports to the same bytes."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from itertools import groupby
from pathlib import Path

from jsonschema import Draft201909Validator, FormatChecker
from sqlmodel import Session, select

from mentoring.lru import LRU
from mentoring.people.models import Organization
from tasklists import shoplists, store
from tasklists.crosswalk import crosswalk
from tasklists.documents import TaskListDoc, TaskRow, is_shop_code
from tasklists.models import ShopTaskList, TaskListTemplate

# Fixed for ever: changing it would change every identifier ever published.
NAMESPACE = uuid.UUID("6f1d0c5e-3b7a-5c2e-9a41-2f8e6d4b1c70")
ROOT = "/ims/case/v1p1"
SCHEMA = Path(__file__).parent / "schemas" / "case-v1p1-cfpackage.json"
ASE_URL = "https://www.aseeducationfoundation.org/"
CREATOR = "Workplace Mentoring"
ITEM_TYPES = ("Area", "Section", "Task")


@cache
def _validator() -> Draft201909Validator:
    return Draft201909Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())


def schema_errors(package: dict) -> list[str]:
    """Where a package breaks the official CASE 1.1 CFPackage JSON Schema."""
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in _validator().iter_errors(package)]


# --- identifiers -------------------------------------------------------------------------------

def catalog_key(program: str, edition: str) -> str:
    return f"catalog:{program}:{edition}"


def shop_list_key(list_id: int) -> str:
    return f"shop-list:{list_id}"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def document_id(key: str) -> str:
    return _id(key)


def item_id(key: str, kind: str, code: str) -> str:
    """kind: area (code "V"), section ("V.B") or task ("V.B.3")."""
    return _id(key, kind, code)


def association_id(origin_id: str, kind: str, destination_id: str) -> str:
    return _id(origin_id, kind, destination_id)


def uri(base_url: str, collection: str, identifier: str) -> str:
    return f"{base_url.rstrip('/')}{ROOT}/{collection}/{identifier}"


def catalog_item_uri(base_url: str, program: str, edition: str, kind: str, code: str) -> str:
    """The URI a badge alignment points at; it needs no database, only what the credential already names."""
    return uri(base_url, "CFItems", item_id(catalog_key(program, edition), kind, code))


def catalog_document_uri(base_url: str, program: str, edition: str) -> str:
    return uri(base_url, "CFDocuments", document_id(catalog_key(program, edition)))


def is_sourced_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


# --- what a framework is made of ---------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    key: str
    doc: TaskListDoc
    changed: datetime
    version: str
    creator: str
    description: str
    shop_id: int | None = None
    level: str = ""
    standard: "Source | None" = None  # the catalog edition a shop list customizes


_DOCS = LRU(128)


def _doc(key: tuple, load) -> TaskListDoc:
    # Stored template versions and published list versions never change, so their rows are read once.
    found = _DOCS.get(key)
    if found is None:
        found = load()
        _DOCS.put(key, found)
    return found


def catalog_sources(db: Session) -> list[Source]:
    """The newest stored version of every program and edition, oldest edition first."""
    found = []
    for summary in store.latest_templates(db):
        t = summary.template
        found.append(Source(
            catalog_key(t.program, t.edition), _doc(("T", t.id, t.content_hash), partial(store.template_doc, db, t)),
            t.created_at, str(t.version), CREATOR,
            f"The {t.title} task list, {t.edition} edition. Codes, structure and priorities follow the ASE "
            f"Education Foundation's; every statement is written in this project's own words."))
    return sorted(found, key=lambda s: (s.doc.program, s.doc.edition))


def shop_sources(db: Session, shop_ids: set[int], catalog: list[Source]) -> list[Source]:
    """The newest published version of every list of these shops; drafts are never exported."""
    if not shop_ids:
        return []
    by_key = {s.key: s for s in catalog}
    found = []
    for task_list, shop in db.exec(select(ShopTaskList, Organization)
                                   .join(Organization, Organization.id == ShopTaskList.shop_id)
                                   .where(ShopTaskList.shop_id.in_(shop_ids)).order_by(ShopTaskList.id)).all():
        version = shoplists.latest_published(db, task_list.id)
        if version is None:
            continue
        template = db.get(TaskListTemplate, task_list.template_id)
        found.append(Source(
            shop_list_key(task_list.id),
            _doc(("V", version.id, task_list.id, task_list.name, version.published_at),
                 partial(shoplists.version_doc, db, task_list, version, template)),
            version.published_at, str(version.number), shop.name,
            f"{shop.name}'s task list at level {task_list.level}, customized from the {template.title} "
            f"{template.edition} task list.", shop_id=shop.id, level=task_list.level,
            standard=by_key.get(catalog_key(template.program, template.edition))))
    return found


# --- the package -------------------------------------------------------------------------------

def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored as UTC; SQLite drops the zone


def _stamp(moment: datetime) -> str:
    return _aware(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Builder:
    base_url: str
    source: Source
    stamp: str
    items: list = field(default_factory=list)
    associations: list = field(default_factory=list)

    def link(self, title: str, identifier: str, collection: str) -> dict:
        return {"title": title[:200], "identifier": identifier, "uri": uri(self.base_url, collection, identifier)}

    def item(self, kind: str, code: str, statement: str, position: int, extensions: dict | None = None) -> dict:
        identifier = item_id(self.source.key, kind.lower(), code)
        item = {"identifier": identifier, "uri": uri(self.base_url, "CFItems", identifier), "fullStatement": statement,
                "humanCodingScheme": code, "listEnumeration": str(position), "CFItemType": kind, "language": "en",
                "lastChangeDateTime": self.stamp}
        if extensions:
            item["extensions"] = extensions
        self.items.append(item)
        return item

    def associate(self, kind: str, origin: dict, destination: dict, sequence: int | None = None,
                  notes: str = "", stamp: str = "") -> None:
        identifier = association_id(origin["identifier"], kind, destination["identifier"])
        association = {"identifier": identifier, "uri": uri(self.base_url, "CFAssociations", identifier),
                       "associationType": kind, "originNodeURI": origin, "destinationNodeURI": destination,
                       "lastChangeDateTime": stamp or self.stamp}
        if sequence is not None:
            association["sequenceNumber"] = sequence
        if notes:
            association["notes"] = notes
        self.associations.append(association)


def _task_extensions(row: TaskRow, shop: bool) -> dict:
    found = {"priority": row.priority, "levels": list(row.levels)}
    if shop:
        found.update(notApplicable=row.not_applicable, naReason=row.na_reason, phase=row.phase,
                     requiredRating=row.required_rating, shopTask=is_shop_code(row.code))
    return found


def _item_link(item: dict) -> dict:
    return {"title": f"{item['humanCodingScheme']} {item['fullStatement']}"[:200], "identifier": item["identifier"],
            "uri": item["uri"]}


def build_package(source: Source, base_url: str, neighbours: list[Source] = ()) -> dict:
    """The CFPackage of one framework. neighbours: other editions of the same program, for the crosswalk."""
    doc = source.doc
    b = _Builder(base_url, source, _stamp(source.changed))
    doc_id = document_id(source.key)
    document = {
        "identifier": doc_id, "uri": uri(base_url, "CFDocuments", doc_id), "caseVersion": "1.1",
        "creator": source.creator, "publisher": CREATOR, "title": f"{doc.title} {doc.edition}"
        + (f" ({source.level})" if source.level else ""), "description": source.description,
        "officialSourceURL": ASE_URL, "language": "en", "version": source.version, "adoptionStatus": "Adopted",
        "lastChangeDateTime": b.stamp,
        "extensions": {"program": doc.program, "edition": doc.edition, "levels": list(doc.levels),
                       "coverageRule": doc.coverage_rule, **({"level": source.level} if source.level else {})},
    }
    doc_link = b.link(document["title"], doc_id, "CFDocuments")
    by_code: dict[tuple[str, str], dict] = {}
    for a_pos, (area_code, area_rows) in enumerate(groupby(doc.rows, key=lambda r: r.area_code), 1):
        area_rows = list(area_rows)
        area = b.item("Area", area_code, area_rows[0].area_title, a_pos)
        by_code[("area", area_code)] = area
        b.associate("isChildOf", _item_link(area), doc_link, a_pos)
        for s_pos, (section_code, rows) in enumerate(groupby(area_rows, key=lambda r: r.section_code), 1):
            rows = list(rows)
            code = f"{area_code}.{section_code}"
            section = b.item("Section", code, rows[0].section_title, s_pos)
            by_code[("section", code)] = section
            b.associate("isChildOf", _item_link(section), _item_link(area), s_pos)
            for t_pos, row in enumerate(rows, 1):
                task = b.item("Task", row.code, row.statement, t_pos, _task_extensions(row, source.shop_id is not None))
                by_code[("task", row.code)] = task
                b.associate("isChildOf", _item_link(task), _item_link(section), t_pos)
    if source.standard is not None:
        _to_standard(b, by_code, source.standard)
    for other in neighbours:
        _crosswalk(b, source, other)
    package = {"CFDocument": document, "CFItems": b.items, "CFAssociations": b.associations}
    return package


def _to_standard(b: _Builder, by_code: dict, standard: Source) -> None:
    """A shop list's standard items are the catalog's own: the same competency, whatever the shop set around it."""
    catalog = {("task", r.code): r.statement for r in standard.doc.rows}
    catalog |= {("area", r.area_code): r.area_title for r in standard.doc.rows}
    catalog |= {("section", f"{r.area_code}.{r.section_code}"): r.section_title for r in standard.doc.rows}
    stamp = _stamp(max(b.source.changed, standard.changed, key=_aware))
    for (kind, code), item in by_code.items():
        if (kind, code) not in catalog:
            continue
        target = item_id(standard.key, kind, code)
        b.associate("exactMatchOf" if catalog[(kind, code)] == item["fullStatement"] else "isRelatedTo",
                    _item_link(item), {"title": f"{code} {catalog[(kind, code)]}"[:200], "identifier": target,
                                          "uri": uri(b.base_url, "CFItems", target), "targetType": "CASE"},
                    stamp=stamp)


def _crosswalk(b: _Builder, source: Source, other: Source) -> None:
    """Tasks that tasklists.crosswalk maps between two editions: an achievement on the older one counts for the
    newer one, so the pair is the same competency (exactMatchOf, newer to older). Both packages carry it."""
    older, newer = sorted((source, other), key=lambda s: s.doc.edition)
    stamp = _stamp(max(source.changed, other.changed, key=_aware))  # the pair exists once both editions do
    statements = {r.code: r.statement for r in newer.doc.rows}
    old_statements = {r.code: r.statement for r in older.doc.rows}
    for old_code, new_code in crosswalk(older.doc, newer.doc, set()).mapped.items():
        origin_id, dest_id = item_id(newer.key, "task", new_code), item_id(older.key, "task", old_code)
        b.associate("exactMatchOf",
                    {"title": f"{new_code} {statements[new_code]}"[:200], "identifier": origin_id,
                     "uri": uri(b.base_url, "CFItems", origin_id), "targetType": "CASE"},
                    {"title": f"{old_code} {old_statements[old_code]}"[:200], "identifier": dest_id,
                     "uri": uri(b.base_url, "CFItems", dest_id), "targetType": "CASE"},
                    notes=f"Crosswalk from the {older.doc.edition} to the {newer.doc.edition} edition: an achieved "
                          f"task carries over.", stamp=stamp)


def from_package(package: dict) -> TaskListDoc:
    """Read a package this module wrote back into a task list, by its isChildOf tree (for tests and imports)."""
    items = {i["identifier"]: i for i in package.get("CFItems", [])}
    children: dict[str, list[tuple[int, str]]] = {}
    for a in package.get("CFAssociations", []):
        if a["associationType"] == "isChildOf":
            children.setdefault(a["destinationNodeURI"]["identifier"], []).append(
                (a.get("sequenceNumber", 0), a["originNodeURI"]["identifier"]))
    document = package["CFDocument"]
    ext = document.get("extensions", {})
    rows = []
    for _, area_id in sorted(children.get(document["identifier"], [])):
        area = items[area_id]
        for _, section_id in sorted(children.get(area_id, [])):
            section = items[section_id]
            for _, task_id in sorted(children.get(section_id, [])):
                task, task_ext = items[task_id], items[task_id].get("extensions", {})
                rows.append(TaskRow(area["humanCodingScheme"], area["fullStatement"],
                                    section["humanCodingScheme"].split(".", 1)[1], section["fullStatement"],
                                    task["humanCodingScheme"], task["fullStatement"], task_ext.get("priority", ""),
                                    tuple(task_ext.get("levels", ())), task_ext.get("notApplicable", False),
                                    task_ext.get("naReason", ""), task_ext.get("phase", ""),
                                    task_ext.get("requiredRating")))
    title = document["title"].rsplit(f" {ext.get('edition', '')}", 1)[0]
    return TaskListDoc(ext.get("program", ""), title, ext.get("edition", ""), tuple(ext.get("levels", ())),
                       ext.get("coverageRule", {}), tuple(rows))


# --- serving -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Framework:
    source: Source
    package: dict
    body: bytes  # the package as served, so that its ETag is computed once
    by_id: dict  # identifier -> ("CFItems" | "CFAssociations", object)


_BUILT = LRU(64)


def _framework(source: Source, base_url: str, neighbours: list[Source]) -> Framework:
    # A stored template version and a published list version never change: their key names their content.
    key = (base_url, source.key, source.version, source.changed, tuple((n.key, n.version) for n in neighbours),
           source.standard.version if source.standard else None)
    found = _BUILT.get(key)
    if found is None:
        package = build_package(source, base_url, neighbours)
        by_id = {i["identifier"]: ("CFItems", i) for i in package["CFItems"]}
        by_id |= {a["identifier"]: ("CFAssociations", a) for a in package["CFAssociations"]}
        found = Framework(source, package, json.dumps(package, ensure_ascii=False).encode(), by_id)
        _BUILT.put(key, found)
    return found


def frameworks(db: Session, base_url: str, shop_ids: set[int]) -> list[Framework]:
    """The catalog's frameworks, then the published lists of the given shops (the caller decides which: see
    mentoring.access.policy.case_shop_ids)."""
    catalog = catalog_sources(db)
    result = [_framework(s, base_url, _adjacent(catalog, i)) for i, s in enumerate(catalog)]
    result += [_framework(s, base_url, []) for s in shop_sources(db, shop_ids, catalog)]
    return result


def _adjacent(catalog: list[Source], i: int) -> list[Source]:
    """The editions just before and after, of the same program: the crosswalk runs from each to the next."""
    return [o for o in (catalog[i - 1] if i else None, catalog[i + 1] if i + 1 < len(catalog) else None)
            if o is not None and o.doc.program == catalog[i].doc.program]


def find_document(found: list[Framework], sourced_id: str) -> Framework | None:
    return next((f for f in found if f.package["CFDocument"]["identifier"] == sourced_id), None)


def document_of(framework: Framework) -> dict:
    """A CFDocument as GET /CFDocuments/{sourcedId} answers it: with the link to its whole package."""
    document = framework.package["CFDocument"]
    return {**document, "CFPackageURI": {"title": document["title"], "identifier": document["identifier"],
                                         "uri": document["uri"].replace("/CFDocuments/", "/CFPackages/")}}


def find_member(found: list[Framework], collection: str, sourced_id: str) -> tuple[Framework, dict] | None:
    """A CFItem or CFAssociation, with the CFDocumentURI of the framework it belongs to, and that framework. An
    association that two packages carry (a crosswalk) is answered from the first."""
    for framework in found:
        hit = framework.by_id.get(sourced_id)
        if hit and hit[0] == collection:
            document = framework.package["CFDocument"]
            return framework, {**hit[1], "CFDocumentURI": {"title": document["title"],
                                                           "identifier": document["identifier"],
                                                           "uri": document["uri"]}}
    return None


def not_found(sourced_id: str) -> dict:
    """The CASE REST binding's status body for an unknown sourcedId."""
    return {"imsx_codeMajor": "failure", "imsx_severity": "error",
            "imsx_description": "There is no such object, or it is not yours to see.",
            "imsx_CodeMinor": {"imsx_codeMinorField": [{"imsx_codeMinorFieldName": "sourcedId",
                                                        "imsx_codeMinorFieldValue": "unknownobject"}]},
            "sourcedId": sourced_id[:64]}
