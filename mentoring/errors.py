"""Errors the domain raises; web/ turns them into pages and API answers."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tasklists.errors import FormError

__all__ = ["FormError", "Forbidden", "NotFound", "flush_unique", "parse_input"]

M = TypeVar("M", bound=BaseModel)


class NotFound(Exception):
    """The object does not exist, or the actor may not know that it does."""


class Forbidden(Exception):
    """The actor may see the object but not do this to it."""


def parse_input(model: type[M], data: dict) -> M:
    """Validate raw form or JSON data, turning pydantic's errors into field messages."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            msg = err["msg"].removeprefix("Value error, ")
            errors.setdefault(field, msg[:1].upper() + msg[1:])
        raise FormError(errors) from None


def flush_unique(db: Session, errors: dict[str, str]) -> None:
    """Write pending rows; a unique-constraint race surfaces as the field messages the caller's check gives."""
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise FormError(errors) from None
