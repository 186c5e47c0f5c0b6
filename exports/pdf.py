"""The completion record as a PDF, drawn straight onto a ReportLab canvas.

Pages are laid out first (a list of drawing operations per page) and drawn afterwards, so that every
footer can say "Page X of Y" in one pass. A full MAST record has over a thousand rows: plain canvas
calls keep it close to the cost of drawing the rows at all (see bench/record_pdf.py)."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

PAPERS = {"letter": LETTER, "a4": A4}
MARGIN, TOP, BOTTOM = 40, 48, 48
FONT, BOLD, MONO = "Helvetica", "Helvetica-Bold", "Courier"
SIZE, LEADING = 8, 9.6
# Column shares of the usable width: code, task, priority, rating, date signed, signature.
COLUMNS = (("Code", 0.09), ("Task", 0.36), ("Pri.", 0.055), ("Rating", 0.085), ("Signed", 0.1),
           ("Signature (printed name and meaning)", 0.31))


def _safe(text) -> str:
    """Standard PDF fonts carry Latin-1 plus a few typographic marks; anything else prints as '?'."""
    text = "" if text is None else str(text)
    return text.encode("cp1252", "replace").decode("cp1252")


class Layout:
    def __init__(self, paper: str):
        self.width, self.height = PAPERS[paper]
        self.usable = self.width - 2 * MARGIN
        self.pages: list[list[tuple]] = []
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        self.ops: list[tuple] = []
        self.pages.append(self.ops)
        self.y = self.height - TOP

    def room(self, height: float) -> bool:
        return self.y - height >= BOTTOM

    def need(self, height: float) -> bool:
        """Start a new page when this much does not fit; say whether one was started."""
        if not self.room(height):
            self.new_page()
            return True
        return False

    def text(self, x: float, text: str, font: str = FONT, size: float = SIZE, gap: float | None = None) -> None:
        self.ops.append(("t", x, self.y - size, font, size, _safe(text)))
        self.y -= gap if gap is not None else size * 1.25

    def lines(self, x: float, lines: list[str], font: str = FONT, size: float = SIZE) -> None:
        for line in lines:
            self.text(x, line, font, size)


def _date(iso: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d") if iso else ""


def _wrap(text: str, font: str, width: float) -> list[str]:
    text = _safe(text)
    if stringWidth(text, font, SIZE) <= width:  # most cells fit on one line: skip the word-by-word split
        return [text]
    return simpleSplit(text, font, SIZE, width) or [""]


def render(content: dict, *, code: str, url: str, sha256: str, issued_at: datetime, paper: str = "letter") -> bytes:
    tz = ZoneInfo(content["shop"]["timezone"])
    layout = Layout(paper)
    _cover(layout, content, code, url, sha256, issued_at, tz)
    _coverage(layout, content)
    for area in content["areas"]:
        _area(layout, area, content, tz)
    return _draw(layout, content, code)


def _cover(layout: Layout, c: dict, code: str, url: str, sha256: str, issued_at: datetime, tz: ZoneInfo,
           title: str = "Completion record") -> None:
    x = MARGIN
    layout.text(x, title, BOLD, 18, gap=26)
    layout.text(x, c["mentee"]["name"], BOLD, 14, gap=22)
    tl = c["task_list"]
    mentors = "; ".join(m["name"] + (f" (until {_date(m['to'], tz)})" if m["to"] else "") for m in c["mentors"])
    facts = [
        ("Shop", c["shop"]["name"]),
        ("Mentor(s)", mentors),
        ("Manager", c["manager"]),
        *[("School", f"{s['school']}, instructor {s['instructor']}") for s in c["schools"]],
        ("Task list", f"{tl['name']}: {tl['title']}, {tl['edition']} edition, level {tl['level']} "
                      f"(shop version {tl['version']})"),
        ("Competence", f"rating {tl['required_rating']} or higher unless a task says otherwise; "
                       f"coverage rule P-1 {c['rule']['P-1']}%, P-2 {c['rule']['P-2']}%, P-3 {c['rule']['P-3']}%"),
        ("Started", c["assignment"]["start_date"]),
        ("Target date", c["assignment"]["target_date"] or "none set"),
        ("Sign-offs", f"first {_date(c['first_signoff'], tz) or '-'}, latest {_date(c['last_signoff'], tz) or '-'}"),
        ("Record as of", _date(c["as_of"], tz) or "no activity yet"),
        ("Issued", issued_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")),
    ]
    for label, value in facts:
        lines = simpleSplit(_safe(value), FONT, 10, layout.usable - 90)
        layout.ops.append(("t", x, layout.y - 10, BOLD, 10, label))
        for line in lines:
            layout.text(x + 90, line, FONT, 10, gap=13)
    layout.y -= 10
    # Verification box: the QR code beside the code, the address and the content hash.
    box = 112
    top = layout.y
    layout.ops.append(("box", x, top - box, layout.usable, box))
    layout.ops.append(("qr", x + layout.usable - box + 6, top - box + 6, box - 12, url))
    layout.y = top - 10
    layout.text(x + 10, "Verify this record", BOLD, 11, gap=16)
    layout.text(x + 10, "Anyone can check it, without an account, at:", FONT, 9, gap=12)
    layout.text(x + 10, url, MONO, 8, gap=14)
    layout.text(x + 10, f"Verification code: {code}", BOLD, 10, gap=15)
    layout.text(x + 10, "SHA-256 of the record's content:", FONT, 8, gap=10)
    layout.text(x + 10, sha256[:32], MONO, 8, gap=10)
    layout.text(x + 10, sha256[32:], MONO, 8, gap=10)
    layout.y = top - box - 18


def _coverage(layout: Layout, c: dict) -> None:
    cov = c["coverage"]
    layout.need(60)
    layout.text(MARGIN, "Coverage summary", BOLD, 13, gap=16)
    verdict = "meets" if cov["passes"] else "does not yet meet"
    layout.text(MARGIN, f"Tasks signed at or above the required rating, per area and priority. The record {verdict} "
                        f"the coverage rule in every area.", FONT, 8.5, gap=14)
    widths = [0.40, 0.17, 0.17, 0.17, 0.09]
    xs = _positions(widths, layout.usable)
    header = ["Area", "P-1", "P-2", "P-3", "Rule"]
    rows = [*cov["areas"], cov["overall"]]
    for i, area in enumerate(rows):
        if i == 0 or layout.need(12):
            layout.ops.append(("shade", MARGIN, layout.y - 12, layout.usable, 12))
            for text, x in zip(header, xs, strict=True):
                layout.ops.append(("t", x + 2, layout.y - 9, BOLD, SIZE, text))
            layout.y -= 12
        title = f"{area['code']} {area['title']}".strip()
        cells = [title[:60]]
        for p in ("P-1", "P-2", "P-3"):
            pc = area["priorities"][p]
            cells.append(f"{pc['achieved']}/{pc['total']} ({pc['percent']}%)" if pc["total"] else "none")
        cells.append("met" if area["passes"] else "not met")
        font = BOLD if area is cov["overall"] else FONT
        for text, x in zip(cells, xs, strict=True):
            layout.ops.append(("t", x + 2, layout.y - 9, font, SIZE, _safe(text)))
        layout.ops.append(("rule", MARGIN, layout.y - 12, MARGIN + layout.usable))
        layout.y -= 12
    layout.y -= 12


def _positions(shares, usable: float) -> list[float]:
    xs, x = [], MARGIN
    for share in shares:
        xs.append(x)
        x += share * usable
    return xs


def _signature_lines(t: dict, tz: ZoneInfo, width: float) -> list[tuple[str, str]]:
    """(font, text) pairs for the signature cell."""
    lines: list[tuple[str, str]] = []
    if t["signed_by"]:
        lines.append((BOLD, t["signed_by"]))
        lines.append((FONT, t["meaning"]))
    for cs in t["countersigns"]:
        lines.append((BOLD, f"Countersigned: {cs['by']}"))
        lines.append((FONT, f"{cs['meaning']}, {_date(cs['at'], tz)}"))
    for r in t["revocations"]:
        lines.append((BOLD, f"REVOKED {_date(r['at'], tz)} by {r['by']}"))
        lines.append((FONT, f"(sign-off by {r['signed_by']}, {_date(r['signed_at'], tz)}): {r['reason']}"))
    wrapped = []
    for font, text in lines:
        wrapped += [(font, part) for part in _wrap(text, font, width)]
    return wrapped


def _area(layout: Layout, area: dict, c: dict, tz: ZoneInfo) -> None:
    xs = _positions([share for _, share in COLUMNS], layout.usable)
    widths = [share * layout.usable - 4 for _, share in COLUMNS]
    cov = next((a for a in c["coverage"]["areas"] if a["code"] == area["code"]), None)

    def heading(continued: bool) -> None:
        layout.text(MARGIN, f"Area {area['code']}: {area['title']}" + (" (continued)" if continued else ""), BOLD, 11,
                    gap=14)
        if cov and not continued:
            parts = [f"{p} {v['achieved']}/{v['total']}" for p, v in cov["priorities"].items() if v["total"]]
            state = "meets the coverage rule" if cov["passes"] else "does not yet meet the coverage rule"
            layout.text(MARGIN, f"{', '.join(parts)}: {state}.", FONT, 8, gap=12)
        layout.ops.append(("shade", MARGIN, layout.y - 12, layout.usable, 12))
        for (label, _), x in zip(COLUMNS, xs, strict=True):
            layout.ops.append(("t", x + 2, layout.y - 9, BOLD, SIZE, label))
        layout.y -= 12

    layout.y -= 6
    layout.need(60)
    heading(False)
    for t in area["tasks"]:
        statement = _wrap(t["statement"], FONT, widths[1])
        signature = _signature_lines(t, tz, widths[5])
        rating = f"{t['rating']} of 5" if t["rating"] else ("REVOKED" if t["status"] == "revoked" else "not yet")
        height = max(len(statement), len(signature), 1) * LEADING + 4
        if layout.need(height):
            heading(True)
        top = layout.y - 2
        ops = layout.ops
        ops.append(("t", xs[0] + 2, top - SIZE, BOLD, SIZE, _safe(t["code"])))
        for i, line in enumerate(statement):
            ops.append(("t", xs[1] + 2, top - SIZE - i * LEADING, FONT, SIZE, line))
        ops.append(("t", xs[2] + 2, top - SIZE, FONT, SIZE, t["priority"]))
        ops.append(("t", xs[3] + 2, top - SIZE, FONT, SIZE, rating))
        ops.append(("t", xs[4] + 2, top - SIZE, FONT, SIZE, _date(t["signed_at"], tz)))
        for i, (font, line) in enumerate(signature):
            ops.append(("t", xs[5] + 2, top - SIZE - i * LEADING, font, SIZE, line))
        layout.y -= height
        ops.append(("rule", MARGIN, layout.y, MARGIN + layout.usable))


def _draw(layout: Layout, c: dict, code: str, title: str = "Completion record") -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(layout.width, layout.height), invariant=1, pageCompression=1)
    canvas.setTitle(f"{title}: {_safe(c['mentee']['name'])}")
    canvas.setAuthor(_safe(c["shop"]["name"]))
    canvas.setSubject(f"Verification code {code}")
    canvas.setKeywords(f"verification-code:{code}")
    canvas.setLineWidth(0.4)
    total = len(layout.pages)
    footer = _safe(f"{c['mentee']['name']} - {c['shop']['name']} - record {code}")
    for number, ops in enumerate(layout.pages, start=1):
        # Shapes first, then every string of the page in one text object: a text object per string
        # (what drawString does) costs more than the text itself.
        for op in ops:
            kind = op[0]
            if kind == "rule":
                canvas.setStrokeGray(0.75)
                canvas.line(op[1], op[2], op[3], op[2])
            elif kind == "shade":
                canvas.setFillGray(0.9)
                canvas.rect(op[1], op[2], op[3], op[4], stroke=0, fill=1)
                canvas.setFillGray(0)
            elif kind == "box":
                canvas.setStrokeGray(0.3)
                canvas.rect(op[1], op[2], op[3], op[4], stroke=1, fill=0)
            elif kind == "qr":
                _qr(canvas, *op[1:])
        text = canvas.beginText()
        font = None
        for op in ops:
            if op[0] == "t":
                _, x, y, face, size, string = op
                if font != (face, size):
                    text.setFont(face, size)
                    font = (face, size)
                text.setTextOrigin(x, y)
                text.textOut(string)
        text.setFont(FONT, 7.5)
        text.setFillGray(0.3)
        text.setTextOrigin(MARGIN, 24)
        text.textOut(footer)
        label = f"Page {number} of {total}"
        text.setTextOrigin(layout.width - MARGIN - stringWidth(label, FONT, 7.5), 24)
        text.textOut(label)
        canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _qr(canvas: Canvas, x: float, y: float, size: float, url: str) -> None:
    """Dark modules as runs of filled rectangles in one path: the graphics widget costs ten times as much."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(url)
    code.make()
    count = code.getModuleCount()
    quiet = 2  # modules of white border inside the given square
    unit = size / (count + 2 * quiet)
    path = canvas.beginPath()
    for row in range(count):
        col = 0
        while col < count:
            if code.isDark(row, col):
                start = col
                while col < count and code.isDark(row, col):
                    col += 1
                path.rect(x + (start + quiet) * unit, y + size - (row + 1 + quiet) * unit, (col - start) * unit, unit)
            else:
                col += 1
    canvas.drawPath(path, stroke=0, fill=1)


# --- the completion certificate of a registered apprenticeship ------------------------------------------

PROGRAM_TYPES = {"time": "time-based", "competency": "competency-based", "hybrid": "hybrid"}


def render_certificate(content: dict, *, code: str, url: str, sha256: str, issued_at: datetime,
                       paper: str = "letter") -> bytes:
    """The record's cover and verification box, then the program, OJL hours per work process (target against
    approved), RTI hours by term and the competencies signed per area."""
    tz = ZoneInfo(content["shop"]["timezone"])
    app = content["apprenticeship"]
    layout = Layout(paper)
    _cover(layout, content, code, url, sha256, issued_at, tz, title="Completion certificate")
    layout.need(60)
    layout.text(MARGIN, "Registered apprenticeship", BOLD, 13, gap=16)
    kind = PROGRAM_TYPES.get(app["kind"], app["kind"])
    layout.text(MARGIN, f"{app['occupation']} ({app['occupation_code'] or 'no code'}), {kind} program, "
                        f"registration {app['registration_number']}", FONT, 9, gap=12)
    layout.text(MARGIN, f"Started {app['start_date']}; term {app['term_hours']:,} OJL hours; status {app['status']} "
                        f"since {app['status_date']}.", FONT, 9, gap=16)
    rows = [[f"{w['code']} {w['title']}", f"{w['target_hours']:,}", f"{w['approved_minutes'] / 60:,.1f}"]
            for w in app["work_processes"]]
    rows.append(["All work processes (credited prior learning "
                 f"{app['credited_minutes'] / 60:,.1f} h included)",
                 f"{sum(w['target_hours'] for w in app['work_processes']):,}", f"{app['ojl_minutes'] / 60:,.1f}"])
    _table(layout, "On-the-job learning hours per work process", ["Work process", "Target hours",
                                                                 "Approved hours"], [0.6, 0.2, 0.2], rows)
    rows = [[r["term"], r["course"], str(r["hours"]), r["result"]] for r in app["rti"]]
    rows.append(["Total", "", str(app["rti_hours"]), ""])
    _table(layout, "Related technical instruction by term", ["Term", "Course", "Hours", "Result"],
           [0.22, 0.5, 0.12, 0.16], rows)
    rows = []
    for area in content["areas"]:
        signed = [t for t in area["tasks"] if t["status"] == "signed"]
        ratings = ", ".join(f"{t['code']} ({t['rating']})" for t in signed if t["rating"]) or "-"
        rows.append([f"{area['code']} {area['title']}", f"{len(signed)} of {len(area['tasks'])}", ratings])
    _table(layout, "Competencies signed (task and rating out of 5)", ["Area", "Tasks signed", "Tasks (rating)"],
           [0.3, 0.14, 0.56], rows)
    return _draw(layout, content, code, title="Completion certificate")


def _table(layout: Layout, title: str, header: list[str], shares: list[float], rows: list[list[str]]) -> None:
    xs = _positions(shares, layout.usable)
    widths = [share * layout.usable - 4 for share in shares]
    layout.need(48)
    layout.text(MARGIN, title, BOLD, 11, gap=14)

    def head() -> None:
        layout.ops.append(("shade", MARGIN, layout.y - 12, layout.usable, 12))
        for text, x in zip(header, xs, strict=True):
            layout.ops.append(("t", x + 2, layout.y - 9, BOLD, SIZE, text))
        layout.y -= 12

    head()
    for row in rows:
        cells = [_wrap(text, FONT, w) for text, w in zip(row, widths, strict=True)]
        height = max(len(c) for c in cells) * LEADING + 4
        if layout.need(height):
            head()
        for lines, x in zip(cells, xs, strict=True):
            for i, line in enumerate(lines):
                layout.ops.append(("t", x + 2, layout.y - 2 - SIZE - i * LEADING, FONT, SIZE, line))
        layout.y -= height
        layout.ops.append(("rule", MARGIN, layout.y, MARGIN + layout.usable))
    layout.y -= 14
