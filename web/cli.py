"""The `mentoring` command."""

import json
import os
import sys

import click
from sqlalchemy import func
from sqlmodel import select

from mentoring import demo
from mentoring.access.policy import Actor
from mentoring.errors import FormError, parse_input
from mentoring.people import accounts, roster
from mentoring.people.accounts import NewPersonIn, OrganizationIn, PersonIn
from mentoring.people.models import Organization, Person
from mentoring.progress.models import ProgressEvent
from mentoring.words import plural
from tasklists import store
from web import migrate
from web.db import Database
from web.settings import WILDCARD_HOSTS, Settings, lan_address, served_base_url

CLI_ACTOR = Actor(person_id=None, name="command line", ip="cli")


def _setup() -> tuple[Settings, Database]:
    try:
        settings = Settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings, Database(settings.db_url)


def _init(database: Database) -> None:
    """Migrate, then load the task-list catalog (a no-op when nothing changed)."""
    migrate.upgrade(database.engine)
    with database.transaction() as db:
        loaded = store.load_catalog(db)
    from web import cli_exports  # each organization's credential-signing key pair
    cli_exports.ensure_issuer_keys(database, Settings().secret_key)
    for template, created in loaded:
        if created:
            click.echo(f"Loaded task list {template.title} {template.edition} (version {template.version})")


@click.group()
def main() -> None:
    """Workplace Mentoring: mentor technicians against ASE-aligned task lists."""


@main.command()
def init() -> None:
    """Create or upgrade the database."""
    settings, database = _setup()
    _init(database)
    click.echo(f"Database ready: {database.engine.url.render_as_string(hide_password=True)}")


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Only seed a database that has no organizations yet.")
def demo_cmd(if_empty: bool) -> None:
    """Load the demo shops and people (safe to run again) and print the demo logins."""
    _settings, database = _setup()
    _init(database)
    with database.transaction() as db:
        if if_empty and not demo.is_seeded(db) and db.exec(select(Organization.id)).first():
            click.echo("The database already holds organizations; no demo data added.")
            return
        created = demo.seed(db)
    from web import cli_exports  # the demo's organizations publish their keys straight away
    cli_exports.ensure_issuer_keys(database, _settings.secret_key)
    with database.session() as db:
        rows = demo.logins(db)
    click.echo("Demo data created." if created else "Demo data was already there.")
    click.echo(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}, sign-off PIN: {demo.DEMO_PIN})")
    for row in rows:
        click.echo(f"  {row.email:<36} {row.name:<16} {row.roles}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Apply migrations, then serve the web app."""
    import uvicorn

    settings, database = _setup()
    _init(database)
    database.dispose()
    base_url = os.environ.get("MENTORING_BASE_URL", "").strip()
    if not base_url:
        # Records, their QR codes and credentials carry this address for good: it must be the one served.
        # The app (and every worker process) reads it from the environment.
        base_url = os.environ["MENTORING_BASE_URL"] = served_base_url(host, port)
        if host in WILDCARD_HOSTS:
            _warn_wildcard(port, base_url)
    click.echo(f"Serving on http://{host}:{port}  (environment: {settings.environment})")
    click.echo(f"Verification links and QR codes point at {base_url}")
    uvicorn.run("web.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=settings.is_production, log_level="info")


def _warn_wildcard(port: int, base_url: str) -> None:
    address = lan_address() or "<this machine's address>"
    click.echo(f"""WARNING: MENTORING_BASE_URL is not set. Records, their QR codes, credentials and emails will send
people to {base_url}, which only this machine can open: a phone that scans the QR code reaches nothing.
Stop the server and start it with the name or address other devices reach this machine by, for example:

    MENTORING_BASE_URL=http://{address}:{port} mentoring serve --host 0.0.0.0 --port {port}

(behind a reverse proxy: its https:// address). A record keeps the address it was issued with.
""", err=True)


# --- organizations and people ------------------------------------------------------

@main.group()
def orgs() -> None:
    """Shops and school programs."""


@orgs.command("create")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(["dealership", "independent", "fleet",
                                                          "collision", "school"]))
@click.option("--timezone", default="America/Chicago", show_default=True)
def orgs_create(name: str, kind: str, timezone: str) -> None:
    """Create a shop or a school program."""
    _, database = _setup()
    _init(database)
    with database.transaction() as db:
        org = _or_fail(lambda: accounts.create_organization(
            db, CLI_ACTOR, parse_input(OrganizationIn, {"name": name, "kind": kind, "timezone": timezone})))
        click.echo(f"Created {org.kind} #{org.id}: {org.name}")


@orgs.command("list")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "json"]))
def orgs_list(fmt: str) -> None:
    """List organizations."""
    _, database = _setup()
    with database.session() as db:
        rows = db.exec(select(Organization).order_by(Organization.name)).all()
    if fmt == "json":
        click.echo(json.dumps([{"id": o.id, "name": o.name, "kind": o.kind} for o in rows], indent=2))
    for o in rows if fmt == "table" else []:
        click.echo(f"{o.id:>4}  {o.kind:<12} {o.name}")


@main.group()
def users() -> None:
    """People and their roles."""


PASSWORD_OPTION = click.option(
    "--password", help="The password itself; other users of this machine can see it in the process list. "
    "Leave it out to be asked, or use --password-stdin.")
PASSWORD_STDIN_OPTION = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input "
    "(for scripts: printf '%s\\n' \"$PASSWORD\" | mentoring users …).")


def _password(given: str | None, from_stdin: bool) -> str:
    """The password from --password, standard input or the terminal; a clear error when there is none."""
    if from_stdin:
        if given:
            raise click.UsageError("Give the password with --password or --password-stdin, not both.")
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("--password-stdin read no password: standard input was empty.")
        return line
    if given:
        return given
    if not sys.stdin.isatty():
        raise click.ClickException(
            "No terminal to ask for the password. Pipe it in with --password-stdin, for example:\n"
            "  printf '%s\\n' \"$PASSWORD\" | mentoring users create --email … --name … --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@PASSWORD_OPTION
@PASSWORD_STDIN_OPTION
@click.option("--org", "org_id", type=int, help="Organization id for the role (see `mentoring orgs list`).")
@click.option("--role", type=click.Choice(["admin", "manager", "mentor", "mentee", "instructor"]))
@click.option("--pin", default="", help="4-6 digit sign-off PIN.")
@click.option("--superuser", is_flag=True, help="Site operator: may create organizations.")
def users_create(email, full_name, password, password_stdin, org_id, role, pin, superuser) -> None:
    """Create a person, optionally with a role at an organization.

    Asks for the password twice on a terminal; from a script, pipe it in with --password-stdin."""
    if bool(org_id) != bool(role):
        raise click.UsageError("--org and --role go together.")
    password = _password(password, password_stdin)
    _, database = _setup()
    _init(database)
    with database.transaction() as db:
        if org_id:
            org = db.get(Organization, org_id)
            if org is None:
                raise click.ClickException(f"No organization #{org_id}; see `mentoring orgs list`.")
            person = _or_fail(lambda: accounts.add_member(db, CLI_ACTOR, org, parse_input(NewPersonIn, {
                "email": email, "full_name": full_name, "role": role, "password": password, "pin": pin})))
            person.is_superuser = superuser
        else:
            person = _or_fail(lambda: accounts.create_person(
                db, CLI_ACTOR, parse_input(PersonIn, {"email": email, "full_name": full_name}),
                password=password, pin=pin, superuser=superuser))
        click.echo(f"Created #{person.id} {person.full_name} <{person.email}>")


@users.command("add-role")
@click.option("--email", required=True)
@click.option("--org", "org_id", type=int, required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "mentor", "mentee", "instructor"]))
def users_add_role(email, org_id, role) -> None:
    """Give an existing person a role at an organization."""
    _, database = _setup()
    with database.transaction() as db:
        person = _person(db, email)
        org = db.get(Organization, org_id)
        if org is None:
            raise click.ClickException(f"No organization #{org_id}; see `mentoring orgs list`.")
        _or_fail(lambda: accounts.add_member(db, CLI_ACTOR, org, NewPersonIn(
            email=person.email, full_name=person.full_name, role=role)))
        click.echo(f"{person.full_name} is now {role} at {org.name}")


@users.command("set-password")
@click.option("--email", required=True)
@PASSWORD_OPTION
@PASSWORD_STDIN_OPTION
def users_set_password(email, password, password_stdin) -> None:
    """Set a new password (and unlock the account).

    Asks for it twice on a terminal; from a script, pipe it in with --password-stdin."""
    password = _password(password, password_stdin)
    _, database = _setup()
    with database.transaction() as db:
        _or_fail(lambda: accounts.reset_credentials(db, CLI_ACTOR, _person(db, email), password=password, pin=""))
    click.echo("Password set.")


@users.command("set-pin")
@click.option("--email", required=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_pin(email, pin) -> None:
    """Set a new sign-off PIN."""
    _, database = _setup()
    with database.transaction() as db:
        _or_fail(lambda: accounts.reset_credentials(db, CLI_ACTOR, _person(db, email), password="", pin=pin))
    click.echo("PIN set.")


@users.command("set-email")
@click.option("--email", required=True, help="The current email.")
@click.option("--new-email", required=True)
def users_set_email(email, new_email) -> None:
    """Change a person's email (sign-in name). The web lets only the person's own organization do this."""
    _, database = _setup()
    with database.transaction() as db:
        _or_fail(lambda: accounts.set_email(db, CLI_ACTOR, _person(db, email), new_email))
    click.echo("Email set.")


@users.command("list")
def users_list() -> None:
    """List people with their roles, per organization."""
    _, database = _setup()
    with database.session() as db:
        people = db.exec(select(Person).order_by(Person.full_name)).all()
        roles = roster.roles_by_person(db)
    for p in people:
        held = "; ".join(f"{org}: {', '.join(names)}" for org, names in roles.get(p.id, {}).items())
        flags = " (site operator)" if p.is_superuser else ""
        click.echo(f"{p.id:>4}  {p.email:<36} {p.full_name}{flags}  {held or 'no roles'}")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident history."""


@audit_group.command("verify")
@click.option("--checkpoints", "saved", type=click.File("r"),
              help="A copy of /orgs/<id>/checkpoints.json kept outside the database, to compare with.")
def audit_verify(saved) -> None:
    """Recompute every event chain and check it, and the audit log, against the signed checkpoints;
    exit 1 and say what changed."""
    from exports import checkpoints
    from mentoring.progress import hours
    from mentoring.progress.signoffs import verify_chains
    from mentoring.trail.checkpoints import describe_chain

    try:
        tokens = checkpoints.saved_copy(json.load(saved)) if saved else []
    except ValueError as exc:
        raise click.ClickException(f"{saved.name}: {exc}") from None
    _, database = _setup()
    with database.session() as db:
        broken = verify_chains(db)
        broken_hours = hours.verify_chains(db)
        result = checkpoints.verify(db, tokens)
        count = db.exec(select(func.count()).select_from(ProgressEvent)).one()
        names = dict(db.exec(select(Organization.id, Organization.name)).all())
        chains = {f.assignment_id: describe_chain(db, f.assignment_id) for f in result.findings if f.assignment_id}
        for link in broken:
            chains.setdefault(link.assignment_id, describe_chain(db, link.assignment_id))
    for warning in result.warnings:
        click.echo(f"NOTE: {warning}")
    problems = [f"BROKEN: {chains[link.assignment_id]}, event #{link.seq} (id {link.event_id}): {link.problem}"
                for link in broken]
    problems += [f"BROKEN: hours of apprenticeship {link.apprenticeship_id}, entry #{link.seq} (id {link.entry_id}): "
                 f"{link.problem}" for link in broken_hours]
    problems += [f"CHECKPOINT: {problem}" for problem in result.problems]
    for f in result.findings:
        if f.assignment_id is not None:
            problems.append(f"CHANGED: {chains[f.assignment_id]}: {f.problem}")
        else:
            owner = (names.get(f.org_id, f"organization {f.org_id}") if f.org_id
                     else "entries of no organization: sign-ins, accounts")
            problems.append(f"CHANGED: audit log ({owner}): {f.problem}")
    if not problems:
        newest = ", ".join(f"{names.get(o, o)} #{c.number} ({c.at:%Y-%m-%d %H:%M} UTC)"
                           for o, c in sorted(result.newest.items()))
        click.echo(f"OK: {plural(count, 'event')}, every chain intact; {plural(result.checked, 'checkpoint')}"
                   " signed and matching"
                   + (f", newest: {newest}" if newest else "")
                   + (f"; the saved copy ({len(tokens)}) agrees" if saved else "") + ".")
        return
    for line in problems:
        click.echo(line, err=True)
    sys.exit(1)


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of every organization whose history changed since its last one (run it from cron)."""
    from exports import checkpoints, keys

    settings, database = _setup()
    try:
        with database.transaction() as db:
            written, refused = checkpoints.write_all(db, secret=settings.secret_key,
                                                     base_url=settings.base_url.rstrip("/"))
            names = dict(db.exec(select(Organization.id, Organization.name)).all())
    except keys.KeyUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    for row in written:
        click.echo(f"Checkpoint #{row.number} of {names[row.organization_id]} (organization {row.organization_id})")
    if not written and not refused:
        click.echo("Nothing changed since the last checkpoints.")
    for problem in refused:
        click.echo(f"No checkpoint: {problem}", err=True)
    if refused:
        sys.exit(1)


# --- developers ---------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("revision")
@click.option("-m", "message", required=True)
def db_revision(message: str) -> None:
    """Write a migration for model changes (developers)."""
    _, database = _setup()
    _init(database)
    migrate.revision(database.engine, message)


def _person(db, email: str) -> Person:
    person = db.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None:
        raise click.ClickException(f"Nobody with email {email}.")
    return person


def _or_fail(action):
    try:
        return action()
    except FormError as exc:
        for field, message in exc.errors.items():
            click.echo(f"error: {field or 'input'}: {message}", err=True)
        sys.exit(1)


def _register_subcommands() -> None:
    from web import cli_backup, cli_exports, cli_inbox, cli_keys, cli_tasklists
    cli_tasklists.register(main, _setup, CLI_ACTOR)
    cli_exports.register(main, _setup, CLI_ACTOR)
    cli_keys.register(main, _setup, CLI_ACTOR)
    cli_backup.register(main, _setup, _init)
    cli_inbox.register(main, _setup)


_register_subcommands()
