"""Credit for prior learning: a shop's manager imports a credential another issuer signed, ticks the tasks of the
shop's list it covers, and the mentor may re-check them (exports/prior.py, mentoring/progress/credit.py)."""

import base64
from dataclasses import dataclass
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from sqlmodel import Session

from exports import prior
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError
from mentoring.people.models import Organization, Person
from mentoring.progress import credit
from mentoring.progress.models import Assignment
from web.render import FormData, page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]
# The credential file, or the verified credential sent back by the confirm form, and the form around it.
PRIOR_BODY_BYTES = prior.MAX_UPLOAD_BYTES * 2 + 64 * 1024


def _page(db: Session, actor: Actor, assignment: Assignment, *, status_code: int = 200, **context) -> Response:
    return page("prior/assignment.html", status_code=status_code, assignment=assignment,
                mentee=db.get(Person, assignment.mentee_id),
                credits=list(credit.credits_of(db, assignment.id).values()),
                can_credit=policy.can_issue_records(actor, assignment.shop_id),
                can_recheck=policy.may_recheck_credit(db, actor, assignment),
                tz=db.get(Organization, assignment.shop_id).timezone,
                **{"errors": {}, "imported": None, "tasks": [], "school_csv": None, **context})


@get("/assignments/{assignment_id:int}/prior", sync_to_thread=True, include_in_schema=False)
def prior_page(db: Db, actor: Me, assignment_id: FromPath[int]) -> Response:
    return _page(db, actor, policy.get_assignment_for_prior(db, actor, assignment_id, crediting=False))


@dataclass
class PriorForm:
    file: UploadFile | None = None


@post("/assignments/{assignment_id:int}/prior", sync_to_thread=True, include_in_schema=False,
      request_max_body_size=PRIOR_BODY_BYTES)
def prior_upload(request: Request, db: Db, actor: Me, assignment_id: FromPath[int],
                 data: Annotated[PriorForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    """Verify the uploaded credential and show which tasks of the list it names; nothing is stored yet."""
    assignment = policy.get_assignment_for_prior(db, actor, assignment_id, crediting=True)
    raw = data.file.file.read(prior.MAX_UPLOAD_BYTES + 1) if data.file is not None else b""
    try:
        imported = prior.read_credential(db, raw)
    except FormError as e:
        return _page(db, actor, assignment, status_code=422 if raw else 400, errors=e.errors)
    return _page(db, actor, assignment, imported=imported,
                 tasks=credit.creditable(db, assignment, imported.codes))


@dataclass
class SchoolCsvForm:
    file: UploadFile | None = None
    signature: str = ""
    student_id: str = ""


@post("/assignments/{assignment_id:int}/prior/school-csv", sync_to_thread=True, include_in_schema=False,
      request_max_body_size=PRIOR_BODY_BYTES)
def prior_school_csv(db: Db, actor: Me, assignment_id: FromPath[int],
                     data: Annotated[SchoolCsvForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    """Verify a school's signed CSV and show which tasks of the list the student completed; nothing is stored."""
    assignment = policy.get_assignment_for_prior(db, actor, assignment_id, crediting=True)
    raw = data.file.file.read(prior.MAX_UPLOAD_BYTES + 1) if data.file is not None else b""
    try:
        imported = prior.read_school_csv(db, raw, data.signature, data.student_id)
    except FormError as e:
        return _page(db, actor, assignment, status_code=422 if raw else 400, errors=e.errors)
    return _page(db, actor, assignment, imported=imported, tasks=credit.creditable(db, assignment, imported.codes),
                 school_csv={"text": base64.b64encode(raw).decode(), "signature": data.signature,
                             "student_id": data.student_id})


@post("/assignments/{assignment_id:int}/prior/credit", sync_to_thread=True, include_in_schema=False,
      request_max_body_size=PRIOR_BODY_BYTES)
def prior_credit(db: Db, actor: Me, assignment_id: FromPath[int], data: FormData) -> Response:
    """Credit the ticked tasks; the credential sent back is verified again, never trusted from the form."""
    assignment = policy.get_assignment_for_prior(db, actor, assignment_id, crediting=True)
    codes = data.get("codes") or []
    codes = [str(c) for c in (codes if isinstance(codes, list) else [codes])]

    def act():
        if data.get("source") == "school_csv":
            try:  # the exact bytes travel as base64: a form field would normalize the file's line ends
                raw = base64.b64decode(str(data.get("evidence", "")), validate=True)
            except ValueError:
                raise FormError({"evidence": "Upload the school's file again."}) from None
            imported = prior.read_school_csv(db, raw, str(data.get("signature", "")), str(data.get("student_id", "")))
        else:
            imported = prior.read_credential(db, str(data.get("evidence", "")).encode())
        source = "school_csv" if data.get("source") == "school_csv" else "credential"
        return credit.credit_tasks(db, actor, assignment, chosen=codes, offered=imported.codes, source=source,
                                   issuer_name=imported.issuer_name, issuer_id=imported.issuer_id,
                                   evidence=imported.evidence, sha256=imported.sha256)

    return submit(db, act, done=f"/assignments/{assignment.id}/prior",
                  failed=lambda e: _page(db, actor, assignment, status_code=400, errors=e.errors))


@post("/prior-credits/{prior_credit_id:int}/recheck", sync_to_thread=True, include_in_schema=False)
def prior_recheck(db: Db, actor: Me, prior_credit_id: FromPath[int], data: FormData) -> Response:
    row, assignment = policy.get_credit_for_recheck(db, actor, prior_credit_id)
    passed = str(data.get("outcome", "")) == "passed"
    return submit(db, lambda: credit.recheck(db, actor, row, assignment, passed=passed,
                                             reason=str(data.get("reason", ""))),
                  done=f"/assignments/{assignment.id}/prior",
                  failed=lambda e: _page(db, actor, assignment, status_code=400, errors=e.errors))


HANDLERS = [prior_page, prior_upload, prior_school_csv, prior_credit, prior_recheck]
