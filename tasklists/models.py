"""Task-list tables: catalog templates (never changed once stored) and shop task lists with versions."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tasklists.clock import utcnow


class TaskListTemplate(SQLModel, table=True):
    """One stored version of a program's edition. A changed edition is stored as a new version."""

    __table_args__ = (UniqueConstraint("program", "edition", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(max_length=40)
    title: str = Field(max_length=120)
    edition: str = Field(max_length=20)
    version: int = 1
    levels: str = Field(max_length=60)  # space-separated, smallest first
    coverage_rule: str = Field(max_length=80)  # JSON {"P-1": 90, ...}
    content_hash: str = Field(max_length=64)  # SHA-256 of the JSON export
    source: str = Field(default="catalog", max_length=20)  # catalog | import
    created_at: datetime = Field(default_factory=utcnow)


class TemplateTask(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("template_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="tasklisttemplate.id", index=True)
    position: int
    area_code: str = Field(max_length=8)
    area_title: str = Field(max_length=120)
    section_code: str = Field(max_length=8)
    section_title: str = Field(max_length=120)
    code: str = Field(max_length=40)
    statement: str = Field(max_length=500)
    priority: str = Field(max_length=3)
    levels: str = Field(max_length=60)


class ShopTaskList(SQLModel, table=True):
    """A shop's customization of a template at one level. Its content lives in versions."""

    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    template_id: int = Field(foreign_key="tasklisttemplate.id")
    level: str = Field(max_length=10)
    name: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class ShopTaskListVersion(SQLModel, table=True):
    """Version 1, 2, …: a draft until published; a published version never changes again."""

    __table_args__ = (
        UniqueConstraint("list_id", "number"),
        # At most one draft per list, so two editors cannot start two drafts.
        Index("uq_shoptasklist_one_draft", "list_id", unique=True,
              sqlite_where=text("published_at IS NULL"), postgresql_where=text("published_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="shoptasklist.id", index=True)
    number: int
    required_rating: int = 3  # for tasks that set none of their own
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    published_by_id: int | None = Field(default=None, foreign_key="person.id")

    @property
    def is_draft(self) -> bool:
        return self.published_at is None


class ShopTask(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="shoptasklistversion.id", index=True)
    template_task_id: int | None = Field(default=None, foreign_key="templatetask.id")  # None: a shop task
    position: int
    area_code: str = Field(max_length=8)
    area_title: str = Field(max_length=120)
    section_code: str = Field(max_length=8)
    section_title: str = Field(max_length=120)
    code: str = Field(max_length=40)
    statement: str = Field(max_length=500)
    priority: str = Field(max_length=3)
    levels: str = Field(max_length=60)
    not_applicable: bool = False
    na_reason: str = Field(default="", max_length=300)
    phase: str = Field(default="", max_length=60)
    required_rating: int | None = None
