"""The same completion record as JSON (content plus how to verify it) and as CSV (one row per task)."""

import csv
import io
import json
from datetime import datetime

from exports.record import content_hash
from tasklists import spreadsheet

CSV_COLUMNS = ["verification_code", "mentee", "shop", "task_list", "edition", "level", "area_code", "area_title",
               "code", "statement", "priority", "status", "rating", "signed_at_utc", "signed_by", "meaning",
               "countersigned_by", "countersign_meaning", "countersigned_at_utc", "revoked"]


def to_json(content: dict, *, code: str, url: str, issued_at: datetime) -> bytes:
    document = {"record": content,
                "verification": {"code": code, "url": url, "sha256": content_hash(content),
                                 "issued_at": issued_at.isoformat(),
                                 "how": "SHA-256 of the 'record' member as JSON with sorted keys, no spaces, UTF-8"}}
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def to_csv(content: dict, *, code: str) -> bytes:
    out = io.StringIO()
    writer = spreadsheet.Writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    tl = content["task_list"]
    for area in content["areas"]:
        for t in area["tasks"]:
            cs = t["countersigns"]
            revoked = "; ".join(f"{r['at']} by {r['by']}: {r['reason']}" for r in t["revocations"])
            writer.writerow([code, content["mentee"]["name"], content["shop"]["name"], tl["name"], tl["edition"],
                             tl["level"], area["code"], area["title"], t["code"], t["statement"],
                             t["priority"], t["status"], t["rating"] or "", t["signed_at"] or "",
                             t["signed_by"] or "", t["meaning"] or "", "; ".join(c["by"] for c in cs),
                             "; ".join(c["meaning"] for c in cs), "; ".join(c["at"] for c in cs), revoked])
    return out.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet programs read UTF-8


def read_csv(data: bytes) -> list[dict[str, str]]:
    """The rows of a record CSV with each cell's value as the record states it (quotes of `to_csv` undone)."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""))
    return [{spreadsheet.restore(k): spreadsheet.restore(v or "") for k, v in row.items() if k is not None}
            for row in reader]
