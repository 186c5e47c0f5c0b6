"""Counted words for messages and pages: "1 task", "3 tasks", never "1 tasks" or "task(s)"."""


def plural(count: int, word: str, many: str | None = None) -> str:
    """The count and the word, in the plural unless the count is one ("many" for irregular plurals)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
