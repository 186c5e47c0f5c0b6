"""`mentoring backup PATH` and `mentoring restore PATH` (see web/backup.py for how each database is copied)."""

from pathlib import Path

import click

from web import backup


def register(main: click.Group, setup, init) -> None:
    @main.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup_cmd(path: Path) -> None:
        """Write an online copy of the database to PATH while the app keeps running."""
        _, database = setup()
        try:
            backup.backup(database, path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Backup written to {path} ({path.stat().st_size:,} bytes). "
                   "Copy the data folder's uploads/ directory with it.")

    @main.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask before replacing the current database.")
    def restore_cmd(path: Path, yes: bool) -> None:
        """Replace the current database with the backup in PATH, then apply any newer migrations."""
        _, database = setup()
        if not yes:
            click.confirm("This replaces everything in the current database. Continue?", abort=True)
        try:
            backup.restore(database, path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        init(database)
        click.echo(f"Restored {path}; schema at {backup.schema_revision(database)}.")
