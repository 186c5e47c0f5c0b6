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


# Pydantic's own wording ("Input should be a valid date or datetime, input is too short") speaks to
# programmers; these say what to type. Other errors (a value error a model raises, a choice) keep theirs.
PLAIN_MESSAGES = {
    "missing": "Fill this in.",
    "date_parsing": "Enter a date, like 2026-09-01.",
    "date_from_datetime_parsing": "Enter a date, like 2026-09-01.",
    "date_from_datetime_inexact": "Enter a date without a time, like 2026-09-01.",
    "date_type": "Enter a date, like 2026-09-01.",
    "datetime_parsing": "Enter a date and time, like 2026-09-01 08:00.",
    "datetime_from_date_parsing": "Enter a date and time, like 2026-09-01 08:00.",
    "datetime_type": "Enter a date and time, like 2026-09-01 08:00.",
    "int_parsing": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "float_parsing": "Enter a number.",
    "float_type": "Enter a number.",
    "decimal_parsing": "Enter a number.",
    "decimal_type": "Enter a number.",
    "bool_parsing": "Choose yes or no.",
}


def parse_input(model: type[M], data: dict) -> M:
    """Validate raw form or JSON data, turning pydantic's errors into field messages."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            msg = PLAIN_MESSAGES.get(err["type"]) or err["msg"].removeprefix("Value error, ")
            errors.setdefault(field, msg[:1].upper() + msg[1:])
        raise FormError(errors) from None


def flush_unique(db: Session, errors: dict[str, str]) -> None:
    """Write pending rows; a unique-constraint race surfaces as the field messages the caller's check gives."""
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise FormError(errors) from None
