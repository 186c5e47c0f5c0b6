"""Apply and check Alembic migrations, for the CLI, the server start and the tests."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData
from sqlmodel import SQLModel

MIGRATIONS = Path(__file__).parent / "migrations"


def target_metadata() -> MetaData:
    # Importing the model modules registers every table on SQLModel.metadata.
    import exports.models  # noqa: F401
    import mentoring.access.models  # noqa: F401
    import mentoring.oversight.models  # noqa: F401
    import mentoring.people.models  # noqa: F401
    import mentoring.progress.models  # noqa: F401
    import mentoring.trail.models  # noqa: F401
    import tasklists.models  # noqa: F401
    import web.models  # noqa: F401
    return SQLModel.metadata


def _config(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    with engine.begin() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)


def drift(engine: Engine) -> list:
    """Differences between the models and the migrated database; empty when they agree."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                target_metadata())
