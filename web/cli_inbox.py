"""`mentoring inbox digest`: email each person what waits for them (run it from cron, e.g. weekday mornings)."""

import click

from mentoring.oversight import digest
from mentoring.words import plural


def register(main: click.Group, setup) -> None:
    @main.group("inbox")
    def inbox() -> None:
        """What waits for people: tasks to sign, reviews, pay steps."""

    @inbox.command("digest")
    def send_digest() -> None:
        """Send each person an email digest of their inbox; does nothing without MENTORING_SMTP_URL."""
        settings, database = setup()
        if not settings.smtp_url:
            click.echo("MENTORING_SMTP_URL is not set: no digests sent.")
            return
        with database.session() as db:
            sent = digest.send_all(db, settings.smtp_url, settings.base_url)
        click.echo(f"Sent {plural(sent, 'digest')}.")
