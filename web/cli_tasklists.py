"""`mentoring tasklists …`: list, export and import task-list files, and crosswalk two editions."""

import json
import re
import sys
from pathlib import Path

import click
from sqlmodel import Session

from exports import case
from mentoring.errors import FormError
from mentoring.progress import customize
from tasklists import files, shoplists, store
from tasklists.crosswalk import crosswalk
from tasklists.models import ShopTaskList, ShopTaskListVersion, TaskListTemplate

ID_HELP = "T<n> for a template, L<n> for a shop list (its newest version) or L<n>v<k> for one version."


def resolve(db: Session, ident: str):
    """A TaskListDoc for an id printed by `tasklists list`."""
    match = re.fullmatch(r"(?i)(T)(\d+)|(L)(\d+)(?:v(\d+))?", ident.strip())
    if not match:
        raise click.BadParameter(ID_HELP, param_hint="ID")
    if match.group(1):
        template = db.get(TaskListTemplate, int(match.group(2)))
        if template is None:
            raise click.ClickException(f"No template {ident}.")
        return store.template_doc(db, template)
    task_list = db.get(ShopTaskList, int(match.group(4)))
    if task_list is None:
        raise click.ClickException(f"No shop list {ident}.")
    versions = shoplists.versions(db, task_list.id)
    version = versions[-1] if not match.group(5) else next(
        (v for v in versions if v.number == int(match.group(5))), None)
    if version is None:
        raise click.ClickException(f"Shop list {task_list.id} has no version {match.group(5)}.")
    return shoplists.version_doc(db, task_list, version, db.get(TaskListTemplate, task_list.template_id))


def case_package(db: Session, base_url: str, ident: str) -> dict:
    """The CFPackage `tasklists case` writes; the CLI may read every shop's published lists."""
    key = ident.strip()
    match = re.fullmatch(r"(?i)(T)(\d+)|(L)(\d+)", key)
    shop_ids: set[int] = set()
    if match and match.group(1):
        template = db.get(TaskListTemplate, int(match.group(2)))
        if template is None:
            raise click.ClickException(f"No template {ident}.")
        key = case.catalog_key(template.program, template.edition)
    elif match:
        task_list = db.get(ShopTaskList, int(match.group(4)))
        if task_list is None:
            raise click.ClickException(f"No shop list {ident}.")
        key, shop_ids = case.shop_list_key(task_list.id), {task_list.shop_id}
    found = case.frameworks(db, base_url, shop_ids)
    if not match:  # a program: its newest edition
        found = [f for f in found if f.source.doc.program == key and f.source.shop_id is None]
        key = found[-1].source.key if found else key
    framework = next((f for f in found if f.source.key == key), None)
    if framework is None:
        raise click.ClickException(f"Nothing to export for {ident}: no such program, or the list is not published. "
                                   f"See `mentoring tasklists list`.")
    return framework.package


def rows(db: Session) -> list[dict]:
    result = [{"id": f"T{s.template.id}", "kind": "template", "program": s.template.program,
               "title": s.template.title, "edition": s.template.edition, "version": s.template.version,
               "tasks": s.task_count} for s in store.templates(db)]
    for task_list in db.exec(ShopTaskList.__table__.select()).all():
        template = db.get(TaskListTemplate, task_list.template_id)
        versions = shoplists.versions(db, task_list.id)
        counts = shoplists.task_counts(db, [v.id for v in versions])
        latest: ShopTaskListVersion = versions[-1]
        result.append({"id": f"L{task_list.id}", "kind": "shop", "shop_id": task_list.shop_id,
                       "program": template.program, "title": task_list.name, "edition": template.edition,
                       "level": task_list.level, "version": latest.number,
                       "status": "draft" if latest.is_draft else "published", "tasks": counts.get(latest.id, 0)})
    return result


def register(main: click.Group, setup, cli_actor) -> None:
    @main.group()
    def tasklists() -> None:
        """Task-list templates and shop lists: list, export, import, crosswalk, CASE."""

    @tasklists.command("list")
    @click.option("--format", "fmt", default="table", type=click.Choice(["table", "json"]))
    def list_cmd(fmt: str) -> None:
        """Every list with its program, edition, version and task count."""
        _, database = setup()
        with database.session() as db:
            found = rows(db)
        if fmt == "json":
            click.echo(json.dumps(found, indent=2))
            return
        click.echo(f"{'ID':<6} {'PROGRAM':<26} {'EDITION':<8} {'VER':>3} {'TASKS':>5}  TITLE")
        for r in found:
            title = r["title"] + (f" ({r['level']}, {r['status']}, shop {r['shop_id']})" if r["kind"] == "shop" else "")
            click.echo(f"{r['id']:<6} {r['program']:<26} {r['edition']:<8} {r['version']:>3} {r['tasks']:>5}  {title}")

    @tasklists.command("export")
    @click.argument("ident", metavar="ID")
    @click.option("--format", "fmt", required=True, type=click.Choice(["csv", "json"]))
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
    def export_cmd(ident: str, fmt: str, out: Path | None) -> None:
        """Write a list as CSV or JSON (see tasklists/FORMAT.md)."""
        _, database = setup()
        with database.session() as db:
            doc = resolve(db, ident)
        text = files.to_csv(doc) if fmt == "csv" else files.to_json(doc)
        if out:
            out.write_text(text, encoding="utf-8", newline="")
            click.echo(f"Wrote {len(doc.rows)} tasks to {out}", err=True)
        else:
            click.echo(text, nl=False)

    @tasklists.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--shop", "shop_id", type=int, help="Import as a draft shop list of this shop instead of a template.")
    @click.option("--name", default="", help="Name of the shop list (default: the file's title).")
    def import_cmd(path: Path, shop_id: int | None, name: str) -> None:
        """Read a CSV or JSON file; a bad file is refused whole and nothing is written."""
        _, database = setup()
        try:
            doc = files.parse(path.read_bytes(), path.name)
        except files.TaskListFileError as exc:
            click.echo(f"{path}: refused, nothing was imported:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(1)
        try:
            with database.transaction() as db:
                if shop_id is None:
                    template, created = store.save_template(db, doc, source="import")
                    what = (f"Imported as template T{template.id}" if created
                            else f"Same content as template T{template.id}; nothing new stored")
                else:
                    from mentoring.people.models import Organization
                    shop = db.get(Organization, shop_id)
                    if shop is None or shop.is_school:
                        raise click.ClickException(f"No shop #{shop_id}; see `mentoring orgs list`.")
                    task_list = customize.import_list(db, cli_actor, shop, doc, name)
                    what = f"Imported as draft shop list L{task_list.id}"
        except FormError as exc:
            for field, message in exc.errors.items():
                click.echo(f"error: {field or 'file'}: {message}", err=True)
            sys.exit(1)
        click.echo(f"{what} ({doc.title} {doc.edition}, {len(doc.rows)} tasks)")

    @tasklists.command("case")
    @click.argument("ident", metavar="PROGRAM_OR_ID")
    def case_cmd(ident: str) -> None:
        """Write a list as a CASE 1.1 CFPackage (JSON): a program's newest catalog edition, a template T<n> (the
        newest stored version of its edition) or a shop list L<n> (its newest published version)."""
        settings, database = setup()
        with database.session() as db:
            package = case_package(db, settings.base_url, ident)
        click.echo(json.dumps(package, indent=2, ensure_ascii=False))

    @tasklists.command("crosswalk")
    @click.argument("old", metavar="OLD_ID")
    @click.argument("new", metavar="NEW_ID")
    def crosswalk_cmd(old: str, new: str) -> None:
        """Map tasks between two editions by code and list every task that has no counterpart."""
        _, database = setup()
        with database.session() as db:
            result = crosswalk(resolve(db, old), resolve(db, new), set())
        click.echo(f"{len(result.mapped)} tasks map by code.")
        click.echo(f"{len(result.unmapped)} tasks of {old} have no counterpart in {new}:")
        for code in result.unmapped:
            click.echo(f"  {code}")
        click.echo(f"{len(result.new_only)} tasks are new in {new}.")
