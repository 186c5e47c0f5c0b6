"""`mentoring keys …`: list, rotate and revoke an organization's signing keys."""

import click

from exports import keys
from mentoring.people.models import Organization


def register(main: click.Group, setup, cli_actor) -> None:
    @main.group("keys")
    def keys_group() -> None:
        """Signing keys of organizations: ES256 for VC-JWTs and checkpoints, Ed25519 for Data Integrity proofs."""

    def _org(db, org_id: int) -> Organization:
        org = db.get(Organization, org_id) if 0 < org_id < 2**31 else None
        if org is None:
            raise click.ClickException(f"No organization #{org_id} (see `mentoring orgs list`).")
        return org

    @keys_group.command("list")
    @click.option("--org", "org_id", type=int, required=True)
    def keys_list(org_id: int) -> None:
        """Every key the organization has had, oldest first, with its state; all stay published."""
        settings, database = setup()
        base = settings.base_url.rstrip("/")
        with database.session() as db:
            _org(db, org_id)
            for k in keys.keys_of(db, org_id):
                note = (f", revoked from {k.revoked_from:%Y-%m-%d %H:%M} UTC: {k.revoked_reason}" if k.revoked_from
                        else f", retired {k.retired_at:%Y-%m-%d %H:%M}" if k.retired_at else "")
                click.echo(f"{keys.state(k):<8} {k.algorithm:<6} made {k.created_at:%Y-%m-%d %H:%M}{note}\n"
                           f"         {keys.verification_method(base, k)}")

    @keys_group.command("rotate")
    @click.option("--org", "org_id", type=int, required=True)
    def keys_rotate(org_id: int) -> None:
        """Make new ES256 and Ed25519 keys; the old ones stop signing but stay published, so what they signed
        keeps verifying."""
        settings, database = setup()
        with database.transaction() as db:
            org = _org(db, org_id)
            retired, made = keys.rotate(db, cli_actor, org_id, settings.secret_key)
        for k in retired:
            click.echo(f"Retired {k.algorithm} key {k.kid} (still published)")
        for k in made:
            click.echo(f"New {k.algorithm} key {k.kid} for {org.name}")

    @keys_group.command("revoke")
    @click.option("--org", "org_id", type=int, required=True)
    @click.option("--key", "kid", required=True, help="The key id (thumbprint) or its DID URL, from `keys list`.")
    @click.option("--from", "from_", required=True,
                  help="ISO date or date and time (UTC unless a zone is given) from which the key is untrusted.")
    @click.option("--reason", required=True)
    def keys_revoke(org_id: int, kid: str, from_: str, reason: str) -> None:
        """Mark a compromised key revoked from a date: what it signed from then on is reported as untrusted."""
        settings, database = setup()
        try:
            moment = keys.parse_instant(from_)
        except ValueError:
            raise click.BadParameter(f"{from_!r} is not an ISO date or date and time", param_hint="--from") from None
        with database.transaction() as db:
            _org(db, org_id)
            stored = keys.find_by_verification_method(db, kid)
            if stored is None or stored.organization_id != org_id:
                raise click.ClickException(f"Organization #{org_id} has no key {kid} (see `mentoring keys list`).")
            try:
                replacement = keys.revoke(db, cli_actor, stored, moment, reason, settings.secret_key)
            except (ValueError, keys.KeyUnavailable) as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"Revoked {stored.algorithm} key {stored.kid} from {moment:%Y-%m-%d %H:%M} UTC: what it signed "
                   "from then on is reported as untrusted.")
        if replacement is not None:
            click.echo(f"New {replacement.algorithm} key {replacement.kid} signs from now on.")
