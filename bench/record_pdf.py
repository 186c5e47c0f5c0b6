"""The completion-record PDF of a full MAST list with every task signed, next to bare ReportLab canvas drawing.

    python bench/record_pdf.py [--db sqlite|postgres] [--runs 7]

Builds a throwaway database with one mentee on the automobile MAST list, signs every task (a manager
countersigns every sixth), then in the same process times, as the median of --runs:
  - record PDF: exports.pdf.render of the record's content (cover with QR code, coverage summary,
    per-area tables with wrapped statements and signatures, "Page X of Y" on every page);
  - bare canvas: the same rows drawn straight onto a ReportLab canvas with the same settings
    (code, wrapped statement, priority, rating, date, signer name and meaning; a new page when full),
    with no cover, summary, headings, footers or QR code: the floor any PDF of these rows costs.
The goal is record PDF <= 1.5 x bare canvas. Reading the record from the database is timed too, apart.
"""

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime

from _common import fresh_database, prepare, seed
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from exports import pdf, record
from mentoring.access.policy import load_actor
from mentoring.people.models import Person
from mentoring.progress import signoffs
from mentoring.progress.models import Assignment
from web.db import Database

GOAL_RATIO = 1.5


def bare_canvas(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1, pageCompression=1)
    width, height = LETTER
    usable = width - 80
    xs = [40 + usable * s for s in (0, 0.09, 0.45, 0.505, 0.59, 0.69)]
    y = height - 48
    canvas.setFont("Helvetica", 8)
    for t in rows:
        lines = simpleSplit(t["statement"], "Helvetica", 8, usable * 0.36 - 4)
        row_height = max(len(lines), 2) * 9.6 + 4
        if y - row_height < 48:
            canvas.showPage()
            canvas.setFont("Helvetica", 8)
            y = height - 48
        canvas.drawString(xs[0], y - 8, t["code"])
        for i, line in enumerate(lines):
            canvas.drawString(xs[1], y - 8 - i * 9.6, line)
        canvas.drawString(xs[2], y - 8, t["priority"])
        canvas.drawString(xs[3], y - 8, f"{t['rating']} of 5")
        canvas.drawString(xs[4], y - 8, t["signed_at"][:10])
        canvas.drawString(xs[5], y - 8, t["signed_by"])
        canvas.drawString(xs[5], y - 17.6, t["meaning"])
        y -= row_height
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bench = fresh_database(args.db)
    if bench is None:
        return 0
    database = Database(bench.url)
    try:
        prepare(database)
        seeded = seed(database, ["MAST"])
        assignment_id = seeded.assignments[0].id
        with database.transaction() as db:
            mentor = load_actor(db, db.get(Person, seeded.mentor_id), ip="bench")
            manager = load_actor(db, db.get(Person, seeded.manager_id), ip="bench")
            for i, code in enumerate(seeded.assignments[0].codes):
                signoffs.sign_off(db, mentor, assignment_id, code, rating=3 + i % 3, pin=None)
                if i % 6 == 0:
                    signoffs.countersign(db, manager, assignment_id, code)
        with database.session() as db:
            assignment = db.get(Assignment, assignment_id)
            read_s, content = timed(lambda: record.build_content(db, assignment), args.runs)
        rows = [t for area in content["areas"] for t in area["tasks"]]
        assert all(t["status"] == "signed" for t in rows)
        digest = record.content_hash(content)
        issued = datetime.now(UTC)

        def full() -> bytes:
            return pdf.render(content, code="ABCD-EFGH-JKMN-PQRS", url="http://127.0.0.1:8000/verify/ABCD-EFGH-JKMN-PQRS",
                              sha256=digest, issued_at=issued)

        full(), bare_canvas(rows)  # warm both (font metrics, imports)
        full_s, full_pdf = timed(full, args.runs)
        bare_s, bare_pdf = timed(lambda: bare_canvas(rows), args.runs)
    finally:
        database.dispose()
        bench.cleanup()
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(full_pdf)).pages)
    bare_pages = len(PdfReader(io.BytesIO(bare_pdf)).pages)
    ratio = full_s / bare_s
    print(f"Completion record PDF, automobile MAST, {len(rows)} tasks all signed ({bench.label}), "
          f"median of {args.runs}")
    print(f"  {'what':<34} {'ms':>8} {'pages':>6} {'KiB':>6}")
    print(f"  {'record PDF (exports.pdf.render)':<34} {full_s * 1000:8.1f} {pages:6d} {len(full_pdf) // 1024:6d}")
    print(f"  {'bare canvas, same rows':<34} {bare_s * 1000:8.1f} {bare_pages:6d} {len(bare_pdf) // 1024:6d}")
    print(f"  {'read model from the database':<34} {read_s * 1000:8.1f}")
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"Goal: record PDF <= {GOAL_RATIO} x bare canvas -> {ratio:.2f} x ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
