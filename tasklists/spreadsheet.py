"""CSV cells that spreadsheets cannot run, and the exact values back when such a file is read again.

A cell beginning with = + - @, a tab or a carriage return is taken as a formula by Excel, LibreOffice and
Google Sheets (OWASP "CSV injection"). Every CSV the product writes goes through `write_row`, which prefixes
such a cell with a single quote and quotes the field; every reader of those files passes cells through
`restore`. The rule is reversible for any value, so values round-trip exactly: a value is prefixed when it
matches ^'*[=+-@\\t\\r] (so "'=y" becomes "''=y"), and one quote is stripped when a cell matches ^'+[=+-@\\t\\r].
"""

import re
from collections.abc import Iterable

_TRIGGERS = "=+\\-@\t\r"
_NEEDS_PREFIX = re.compile(f"'*[{_TRIGGERS}]")
_PREFIXED = re.compile(f"'+[{_TRIGGERS}]")
_QUOTE_WHEN = (",", '"', "\r", "\n")


def inert(value: object) -> str:
    """The cell as written: a quote in front of anything a spreadsheet would evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if _NEEDS_PREFIX.match(text) else text


def restore(cell: str) -> str:
    """The value a cell written by `inert` stands for."""
    return cell[1:] if _PREFIXED.match(cell) else cell


def _field(value: object) -> str:
    raw = "" if value is None else str(value)
    text = inert(raw)
    # A prefixed cell is always quoted too (OWASP's advice); others are quoted as the csv module would.
    if text != raw or any(ch in text for ch in _QUOTE_WHEN):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_row(cells: Iterable[object], lineterminator: str = "\r\n") -> str:
    """One CSV line (RFC 4180 quoting) with every cell made inert."""
    return ",".join(_field(cell) for cell in cells) + lineterminator


class Writer:
    """A drop-in for csv.writer over a text stream, for every CSV the product hands out."""

    def __init__(self, out, lineterminator: str = "\r\n"):
        self.out, self.lineterminator = out, lineterminator

    def writerow(self, cells: Iterable[object]) -> None:
        self.out.write(format_row(cells, self.lineterminator))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
