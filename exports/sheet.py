"""A blank task sheet as a PDF: for shops that start on paper, one line per task with empty columns for the
date, the rating, the repair order and the mentor's initials, to be copied into the app later."""

import io

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from exports.pdf import _safe

MARGIN, FONT, BOLD, SIZE = 36, "Helvetica", "Helvetica-Bold", 8
# (heading, share of the usable width); the last four stay empty for the pen.
COLUMNS = (("Code", 0.08), ("Task", 0.47), ("Pri.", 0.06), ("Date", 0.11), ("Rating", 0.08),
           ("RO number", 0.11), ("Mentor", 0.09))


def blank_sheet(title: str, lines: list[str], tasks) -> bytes:
    """`tasks` are shop tasks (code, statement, priority, not_applicable); tasks that do not apply are left
    out, since nobody signs them."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    canvas.setTitle(_safe(title))
    width, height = LETTER
    usable = width - 2 * MARGIN
    xs, x = [], MARGIN
    for _, share in COLUMNS:
        xs.append(x)
        x += share * usable
    page = 0

    def header() -> float:
        nonlocal page
        page += 1
        y = height - MARGIN
        canvas.setFont(BOLD, 12)
        canvas.drawString(MARGIN, y - 12, _safe(title))
        y -= 18
        canvas.setFont(FONT, SIZE)
        for line in lines:
            canvas.drawString(MARGIN, y - SIZE, _safe(line))
            y -= SIZE * 1.4
        canvas.drawRightString(width - MARGIN, MARGIN / 2, f"Page {page}")
        y -= 6
        canvas.setFont(BOLD, SIZE)
        for (name, _), cx in zip(COLUMNS, xs, strict=True):
            canvas.drawString(cx + 2, y - SIZE, name)
        y -= SIZE * 1.6
        canvas.line(MARGIN, y, width - MARGIN, y)
        canvas.setFont(FONT, SIZE)
        return y

    y = header()
    for task in (t for t in tasks if not t.not_applicable):
        wrapped = simpleSplit(_safe(task.statement), FONT, SIZE, COLUMNS[1][1] * usable - 4)
        row = max(len(wrapped) * SIZE * 1.2, 18) + 4  # room to write by hand
        if y - row < MARGIN:
            canvas.showPage()
            y = header()
        canvas.drawString(xs[0] + 2, y - SIZE - 2, _safe(task.code))
        for i, part in enumerate(wrapped):
            canvas.drawString(xs[1] + 2, y - SIZE - 2 - i * SIZE * 1.2, part)
        canvas.drawString(xs[2] + 2, y - SIZE - 2, _safe(task.priority))
        y -= row
        canvas.line(MARGIN, y, width - MARGIN, y)
        for cx in xs[1:]:
            canvas.line(cx, y, cx, y + row)
    canvas.save()
    return buffer.getvalue()
