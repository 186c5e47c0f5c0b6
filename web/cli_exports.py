"""`mentoring export …` and `mentoring verify`: completion records and credentials from the command line."""

import os
import sys
from pathlib import Path

import click
from sqlmodel import Session, select

from exports import checkpoints, credentials, keys, service, verify
from mentoring.people.models import Person
from mentoring.progress import board
from mentoring.progress.models import Assignment


def ensure_issuer_keys(database, secret: str) -> None:
    """Called by `mentoring init`: every organization gets its signing key pair."""
    with database.transaction() as db:
        made = keys.ensure_keys(db, secret)
    if made:
        click.echo(f"Made {made} issuer key pair{'s' if made != 1 else ''} for signing credentials")


def _anchor(database, settings, org_id: int) -> None:
    """A signed checkpoint of the history just issued, in a transaction of its own (see exports.checkpoints)."""
    try:
        with database.transaction() as db:
            checkpoints.write_checkpoint(db, org_id, secret=settings.secret_key, base_url=settings.base_url.rstrip("/"))
    except (keys.KeyUnavailable, checkpoints.BadSignature) as exc:
        click.echo(f"No checkpoint written: {exc}", err=True)


def _assignment(db: Session, email: str, assignment_id: int | None) -> Assignment:
    person = db.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None:
        raise click.ClickException(f"Nobody with email {email}.")
    found = board.assignments_of(db, person.id)
    if assignment_id is not None:
        found = [a for a in found if a.id == assignment_id]
    if not found:
        raise click.ClickException(f"{person.full_name} has no active assignment"
                                   + (f" #{assignment_id}." if assignment_id else "."))
    if len(found) > 1:
        raise click.ClickException("Several active assignments; choose one with --assignment "
                                   + ", ".join(str(a.id) for a in found) + ".")
    return found[0]


def _note_base_url(settings) -> None:
    """What is written here carries the base URL for good; without MENTORING_BASE_URL it is only a default."""
    if not os.environ.get("MENTORING_BASE_URL"):
        click.echo(f"Note: MENTORING_BASE_URL is not set, so verification links say {settings.base_url}; set it "
                   "to the address the server is reached by (the same as for `mentoring serve`).", err=True)


def register(main: click.Group, setup, cli_actor) -> None:
    @main.group("export")
    def export() -> None:
        """Completion records (PDF, CSV, JSON) and Open Badges credentials."""

    @export.command("record")
    @click.option("--mentee", "email", required=True, help="The mentee's email.")
    @click.option("--format", "fmt", required=True, type=click.Choice(service.FORMATS))
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--paper", default="letter", show_default=True, type=click.Choice(["letter", "a4"]))
    @click.option("--assignment", "assignment_id", type=int, help="When the mentee has several.")
    def export_record(email: str, fmt: str, out: Path, paper: str, assignment_id: int | None) -> None:
        """Write the mentee's current completion record."""
        settings, database = setup()
        with database.transaction() as db:
            assignment = _assignment(db, email, assignment_id)
            exported = service.export_record(db, cli_actor, assignment, fmt, base_url=settings.base_url.rstrip("/"),
                                             paper=paper)
        _anchor(database, settings, assignment.shop_id)
        out.write_bytes(exported.data)
        click.echo(f"Wrote {out} (record {exported.code})")
        _note_base_url(settings)

    @export.command("credentials")
    @click.option("--mentee", "email", required=True, help="The mentee's email.")
    @click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
    @click.option("--assignment", "assignment_id", type=int, help="When the mentee has several.")
    def export_credentials(email: str, out: Path, assignment_id: int | None) -> None:
        """Issue what is due and write every valid credential and the transcript, each as a .json file for
        wallets (Data Integrity proof) and a .jwt file (VC-JWT)."""
        settings, database = setup()
        try:
            with database.transaction() as db:
                assignment = _assignment(db, email, assignment_id)
                issued = credentials.issue_credentials(db, cli_actor, assignment,
                                                       base_url=settings.base_url.rstrip("/"),
                                                       secret=settings.secret_key)
        except keys.KeyUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        _anchor(database, settings, assignment.shop_id)
        out.mkdir(parents=True, exist_ok=True)
        for cred in issued:
            stem = f"{cred.kind}-{cred.achievement_key.replace(':', '-')}"
            (out / f"{stem}.jwt").write_text(cred.token)
            if cred.di_json:
                (out / f"{stem}.json").write_text(cred.di_json)
            click.echo(f"Wrote {out / stem}.json and .jwt: {cred.name}")
        if not issued:
            click.echo("No area meets the coverage rule yet, so there is nothing to issue.")
        else:
            _note_base_url(settings)

    @main.command("verify")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def verify_cmd(path: Path) -> None:
        """Check a record (PDF, CSV, JSON), a credential (.json or .jwt) or a baked badge (PNG, SVG); exit 1 unless
        authentic and current."""
        if path.stat().st_size > verify.MAX_FILE_BYTES:  # refused before it is read
            click.echo(f"NOT CHECKED: {path} is larger than {verify.MAX_FILE_BYTES // (1024 * 1024)} MB; no record, "
                       "credential or badge issued here is.", err=True)
            sys.exit(2)
        _, database = setup()
        with database.session() as db:
            verdict = verify.verify_bytes(db, path.read_bytes())
            code = verdict.record.code if verdict.record else ""
        label = "AUTHENTIC" if verdict.authentic else "NOT AUTHENTIC"
        click.echo(f"{label} ({verdict.kind}, {verdict.status}){' record ' + code if code else ''}: {verdict.message}")
        for detail in verdict.details[:10]:
            click.echo(f"  {detail}")
        if not (verdict.authentic and verdict.status == "current"):
            sys.exit(1)
