"""Admin pages: organizations, people and roles, triads, enrollments."""

import smtplib
from dataclasses import dataclass
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from sqlmodel import Session

from mentoring import mail
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound, parse_input
from mentoring.oversight import setup
from mentoring.people import accounts, invitations, peoplefile, roster, triads
from mentoring.people.accounts import Added, NewPersonIn, OrganizationIn, PersonIn, SchoolIn
from mentoring.people.models import (
    ORG_KINDS,
    SCHOOL_ROLES,
    SHOP_ROLES,
    Enrollment,
    Organization,
)
from mentoring.people.triads import EnrollmentIn, TriadIn
from mentoring.progress import apprenticeship
from web import sessions
from web.deps import settings_of
from web.render import UPLOAD_BODY_BYTES, FormData, checkbox, form_error, page, refused_page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


# --- organizations -------------------------------------------------------------

@get("/admin", sync_to_thread=True)
def admin_home(db: Db, actor: Me) -> Response:
    orgs = roster.organizations(db, policy.administered_org_ids(actor))
    managed = roster.organizations(db, actor.orgs_where("manager") - {o.id for o in orgs})
    if not orgs and not managed and not actor.is_superuser:
        raise Forbidden
    # The site operator's list: names and kinds only, to rename one or invite its first admin.
    site = roster.all_organizations(db) if actor.is_superuser else []
    return page("admin/home.html", orgs=orgs, managed=managed, site=site)


def _shop_options(data: dict) -> dict:
    options = {name: checkbox(data, name) for name in ("safety_first", "any_mentor_signs", "tablet_window")}
    return {**options, "tablet_window_minutes": data.get("tablet_window_minutes", "3")}


@get("/admin/orgs/new", sync_to_thread=True)
def org_new(actor: Me) -> Response:
    policy.require_superuser(actor)
    return page("admin/org_form.html", org=None, kinds=ORG_KINDS, form={"timezone": "America/Chicago"},
                errors={})


@post("/admin/orgs/new", sync_to_thread=True)
def org_create(db: Db, actor: Me, data: FormData) -> Response:
    policy.require_superuser(actor)
    return submit(db, lambda: accounts.create_organization(db, actor, parse_input(OrganizationIn, {
        **data, **_shop_options(data)})), done=lambda org: f"/admin/orgs/{org.id}",
        failed=lambda e: form_error("admin/org_form.html", e, data, org=None, kinds=ORG_KINDS))


@get("/admin/orgs/{org_id:int}", sync_to_thread=True)
def org_detail(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_shop_for_manager(db, actor, org_id) if not policy.can_administer(actor, org_id) \
        else policy.get_org_for_admin(db, actor, org_id)
    shop_ids = set() if org.is_school else {org.id}
    can_admin = policy.can_administer(actor, org.id)
    partners = roster.partner_schools(db, org.id) if can_admin else []
    return page("admin/org_detail.html", org=org, members=roster.members_of(db, org.id), can_admin=can_admin,
                invitations=invitations.pending_at(db, org.id) if can_admin else [],
                partners=[(school, invitations.pending_at(db, school.id)) for school in partners],
                steps=[] if org.is_school else setup.checklist(db, org),
                triads=roster.triads_at(db, shop_ids, include_ended=True),
                enrollments=roster.enrollments_at_shops(db, shop_ids, include_ended=True))


@get("/admin/orgs/{org_id:int}/edit", sync_to_thread=True)
def org_edit(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_settings(db, actor, org_id)
    return page("admin/org_form.html", org=org, kinds=ORG_KINDS, form=org.model_dump(), errors={},
                only=policy.org_fields_editable_by(actor, org.id))


@post("/admin/orgs/{org_id:int}/edit", sync_to_thread=True)
def org_update(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_settings(db, actor, org_id)
    only = policy.org_fields_editable_by(actor, org.id)
    form = {**org.model_dump(), **data} if only else {**data, **_shop_options(data)}
    return submit(db, lambda: accounts.update_organization(db, actor, org, parse_input(OrganizationIn, form)),
                  done=f"/admin/orgs/{org.id}" if only is None else "/admin",
                  failed=lambda e: form_error("admin/org_form.html", e, data, org=org, kinds=ORG_KINDS, only=only))


@get("/admin/orgs/{org_id:int}/first-admin", sync_to_thread=True)
def first_admin_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_first_admin(db, actor, org_id)
    return page("admin/first_admin_form.html", org=org, form={}, errors={})


@post("/admin/orgs/{org_id:int}/first-admin", sync_to_thread=True)
def first_admin_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_first_admin(db, actor, org_id)
    return submit(db, lambda: invitations.invite_first_admin(db, actor, org, parse_input(
        NewPersonIn, {**data, "role": "admin"})), done="/admin?invited=1",
        failed=lambda e: form_error("admin/first_admin_form.html", e, data, org=org))


# --- people and roles ----------------------------------------------------------

def _roles_for(org: Organization) -> tuple[str, ...]:
    return SCHOOL_ROLES if org.is_school else SHOP_ROLES


def _member_page(request: Request, org: Organization, *, form: dict, errors: dict, status_code: int = 200,
                 template: str = "admin/member_form.html") -> Response:
    return page(template, status_code=status_code, org=org, roles=_roles_for(org), form=form, errors=errors,
                can_email=bool(settings_of(request).smtp_url))


def _kept(data: dict, errors: dict) -> dict:
    """What the admin typed, for the form shown again. A password or PIN comes back only when it was valid
    itself (so a mistake elsewhere does not mean typing it twice); the page is never cached (no-store) and
    the secrets never go into a URL."""
    return {k: v for k, v in data.items() if k != "_csrf_token" and not (k in ("password", "pin") and k in errors)}


def _send_invitations(request: Request, actor: Actor, org: Organization, added: list[Added]) -> None:
    """Email the invitations just made; if the mail server refuses, nothing is saved."""
    settings = settings_of(request)
    messages = [invitations.invitation_email(a.invitation, org, a.person, actor.name, settings.base_url,
                                             a.link_token) for a in added if a.invitation is not None]
    if not messages or not settings.smtp_url:
        return
    try:
        mail.send(settings.smtp_url, messages)
    except (OSError, smtplib.SMTPException):
        raise FormError({"": "The invitation email could not be sent, so nothing was saved. Try again later, "
                             "or set a starting password instead."}) from None


def _send_invitation(request: Request, actor: Actor, org: Organization, added: Added) -> Added:
    _send_invitations(request, actor, org, [added])
    return added


def _add_person(request: Request, db: Session, actor: Actor, org: Organization, data: dict) -> Added:
    by_email = data.get("sign_in") == "email"
    if by_email and not settings_of(request).smtp_url:
        raise FormError({"sign_in": "This server sends no email (MENTORING_SMTP_URL is not set): set a starting "
                                    "password instead."})
    return _send_invitation(request, actor, org, accounts.add_person(db, actor, org, data, by_email=by_email))


def _added_path(org: Organization, added: Added) -> str:
    if added.link_token:
        return f"/admin/orgs/{org.id}?done=link-sent"
    if added.invitation:
        return f"/admin/orgs/{org.id}?invited=1"
    return f"/admin/orgs/{org.id}?done=person-added"


@get("/admin/orgs/{org_id:int}/members/new", sync_to_thread=True)
def member_new(request: Request, db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    return _member_page(request, org, form={"sign_in": "email" if settings_of(request).smtp_url else "password"},
                        errors={})


@post("/admin/orgs/{org_id:int}/members/new", sync_to_thread=True)
def member_create(request: Request, db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    return submit(db, lambda: _add_person(request, db, actor, org, data), done=lambda added: _added_path(org, added),
                  failed=lambda e: _member_page(request, org, form=_kept(data, e.errors), errors=e.errors,
                                                status_code=400))


# --- several people from a CSV file -------------------------------------------------------

@dataclass
class PeopleFileForm:
    file: UploadFile | None = None
    csv_text: str = ""  # the previewed file, sent back by the confirm button
    confirm: str = ""
    sign_in: str = ""


@get("/admin/orgs/{org_id:int}/people/template.csv", sync_to_thread=True)
def people_template(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    policy.get_org_for_admin(db, actor, org_id)
    return Response(peoplefile.TEMPLATE, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="people.csv"'})


@get("/admin/orgs/{org_id:int}/people/import", sync_to_thread=True)
def people_import_page(request: Request, db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    return _people_import_page(request, org)


def _people_import_page(request: Request, org: Organization, *, status_code: int = 200, **context) -> Response:
    return page("admin/people_import.html", status_code=status_code, org=org,
                can_email=bool(settings_of(request).smtp_url), **{"problems": [], "rows": [], "errors": {},
                                                                  "csv_text": "", **context})


@post("/admin/orgs/{org_id:int}/people/import", sync_to_thread=True, request_max_body_size=UPLOAD_BODY_BYTES)
def people_import(request: Request, db: Db, actor: Me, org_id: FromPath[int],
                  data: Annotated[PeopleFileForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    """Upload: check every line and show what would happen. Confirm: add everyone, or nobody."""
    org = policy.get_org_for_admin(db, actor, org_id)
    text = data.csv_text
    if data.file is not None and not data.confirm:
        raw = data.file.file.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _people_import_page(request, org, status_code=400,
                                       errors={"file": "The file is not UTF-8 text: save it as CSV (UTF-8)."})
    def refused(e: FormError) -> Response:
        problems = getattr(e, "problems", [])
        return _people_import_page(request, org, status_code=400, errors=e.errors, problems=problems[:50],
                                   more=max(0, len(problems) - 50), csv_text="")

    if not data.confirm:
        try:
            return _people_import_page(request, org, rows=peoplefile.read(db, actor, org, text), csv_text=text)
        except FormError as e:
            return refused(e)
    by_email = data.sign_in == "email" and bool(settings_of(request).smtp_url)
    return submit(db, lambda: _send_invitations(
        request, actor, org, peoplefile.import_people(db, actor, org, text, by_email=by_email)),
        done=f"/admin/orgs/{org.id}?done=people-imported", failed=refused)


# --- partner schools and their instructors ---------------------------------------

@get("/admin/orgs/{org_id:int}/schools/new", sync_to_thread=True)
def school_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    shop = _shop_for_admin(db, actor, org_id)
    return page("admin/school_form.html", shop=shop, form={"timezone": shop.timezone}, errors={})


@post("/admin/orgs/{org_id:int}/schools/new", sync_to_thread=True)
def school_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    shop = _shop_for_admin(db, actor, org_id)
    return submit(db, lambda: accounts.add_partner_school(db, actor, shop, parse_input(SchoolIn, data)),
                  done=lambda school: f"/admin/schools/{school.id}/instructors/new?done=school-added",
                  failed=lambda e: form_error("admin/school_form.html", e, data, shop=shop))


def _shop_for_admin(db: Session, actor: Actor, org_id: int) -> Organization:
    org = policy.get_org_for_admin(db, actor, org_id)
    if org.is_school:
        raise NotFound
    return org


def _instructor_page(request: Request, db: Session, school: Organization, *, form: dict, errors: dict,
                     status_code: int = 200) -> Response:
    return page("admin/instructor_form.html", status_code=status_code, school=school,
                shop=db.get(Organization, school.created_by_org_id), form=form, errors=errors,
                can_email=bool(settings_of(request).smtp_url))


@get("/admin/schools/{school_id:int}/instructors/new", sync_to_thread=True)
def instructor_new(request: Request, db: Db, actor: Me, school_id: FromPath[int]) -> Response:
    school = policy.get_partner_school_for_admin(db, actor, school_id)
    return _instructor_page(request, db, school, form={}, errors={})


@post("/admin/schools/{school_id:int}/instructors/new", sync_to_thread=True)
def instructor_invite(request: Request, db: Db, actor: Me, school_id: FromPath[int], data: FormData) -> Response:
    """A shop's admin invites its partner school's instructor by email; the instructor accepts by choosing a
    password (a new account, which the school, not the shop, holds) or by signing in (an existing one)."""
    school = policy.get_partner_school_for_admin(db, actor, school_id)
    form = {"full_name": data.get("full_name", ""), "email": data.get("email", ""), "role": "instructor",
            "sign_in": "email"}
    return submit(db, lambda: _add_person(request, db, actor, school, form),
                  done=f"/admin/orgs/{school.created_by_org_id}/enrollments/new?done=instructor-invited",
                  failed=lambda e: _instructor_page(request, db, school, form=_kept(data, e.errors),
                                                    errors=e.errors, status_code=400))


@post("/admin/invitations/{invitation_id:int}/revoke", sync_to_thread=True)
def invitation_revoke(db: Db, actor: Me, invitation_id: FromPath[int]) -> Response:
    invitation = invitations.get_for_revoker(db, actor, invitation_id)
    back = f"/admin/orgs/{invitation.organization_id}"
    return submit(db, lambda: invitations.revoke(db, actor, invitation), done=back,
                  failed=refused_page("This invitation is closed", back, status_code=409))


@post("/admin/memberships/{membership_id:int}/delete", sync_to_thread=True)
def member_delete(db: Db, actor: Me, membership_id: FromPath[int]) -> Response:
    membership = policy.get_membership_for_admin(db, actor, membership_id)
    org_page = f"/admin/orgs/{membership.organization_id}"
    return submit(db, lambda: accounts.remove_membership(db, actor, membership), done=org_page,
                  failed=refused_page("This role cannot be removed yet", org_page))


@get("/admin/people/{person_id:int}", sync_to_thread=True)
def person_edit(db: Db, actor: Me, person_id: FromPath[int]) -> Response:
    person = policy.get_person_for_admin(db, actor, person_id)
    return _person_page(db, actor, person, form=person.model_dump(), errors={})


def _person_page(db: Session, actor: Actor, person, *, form, errors, status_code=200) -> Response:
    return page("admin/person_form.html", status_code=status_code, person=person, form=form, errors=errors,
                memberships=policy.memberships_shown_to(actor, roster.memberships_of(db, person.id)),
                manages=policy.can_manage_account(db, actor, person))


@post("/admin/people/{person_id:int}", sync_to_thread=True)
def person_update(db: Db, actor: Me, person_id: FromPath[int], data: FormData) -> Response:
    person = policy.get_person_for_admin(db, actor, person_id)

    def act():
        accounts.update_person(db, actor, person, parse_input(PersonIn, data), active=checkbox(data, "is_active"))
        if not person.is_active:
            sessions.end_all_for(db, person.id)

    return submit(db, act, done=f"/admin/people/{person.id}?saved=1",
                  failed=lambda e: _person_page(db, actor, person, form=data, errors=e.errors, status_code=400))


@post("/admin/people/{person_id:int}/credentials", sync_to_thread=True)
def person_credentials(db: Db, actor: Me, person_id: FromPath[int], data: FormData) -> Response:
    """An admin sets a new password and/or PIN, for someone who forgot theirs."""
    person = policy.get_person_for_admin(db, actor, person_id)

    def act():
        accounts.reset_credentials(db, actor, person, password=str(data.get("password", "")),
                                   pin=str(data.get("pin", "")))
        if data.get("password"):
            sessions.end_all_for(db, person.id)

    return submit(db, act, done=f"/admin/people/{person.id}?saved=credentials", failed=lambda e: _person_page(
        db, actor, person, form=person.model_dump(), errors=e.errors, status_code=400))


@post("/admin/orgs/{org_id:int}/people/{person_id:int}/remove", sync_to_thread=True)
def person_remove(db: Db, actor: Me, org_id: FromPath[int], person_id: FromPath[int]) -> Response:
    """End every role the person holds at this organization (and their API tokens here), nothing else."""
    org = policy.get_org_for_admin(db, actor, org_id)
    person = policy.get_person_for_admin(db, actor, person_id)
    return submit(db, lambda: accounts.remove_from_org(db, actor, org, person), done=f"/admin/orgs/{org.id}",
                  failed=refused_page("This person cannot be removed yet", f"/admin/people/{person.id}"))


# --- triads ----------------------------------------------------------------------

def _triad_choices(db: Session, shop: Organization) -> dict:
    return {role + "s": policy.people_with_role(db, shop.id, role) for role in ("mentee", "mentor", "manager")}


@get("/admin/orgs/{org_id:int}/triads/new", sync_to_thread=True)
def triad_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    return page("admin/triad_form.html", shop=shop, form={}, errors={}, **_triad_choices(db, shop))


@post("/admin/orgs/{org_id:int}/triads/new", sync_to_thread=True)
def triad_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    return submit(db, lambda: triads.create_triad(db, actor, shop, parse_input(TriadIn, data)),
                  done=lambda triad: f"/admin/triads/{triad.id}?done=triad-started",
                  failed=lambda e: form_error("admin/triad_form.html", e, data, shop=shop,
                                              **_triad_choices(db, shop)))


@get("/admin/triads/{triad_id:int}", sync_to_thread=True)
def triad_detail(db: Db, actor: Me, triad_id: FromPath[int]) -> Response:
    triad = policy.get_triad_for_manager(db, actor, triad_id)
    return _triad_page(db, triad, errors={}, form={})


def _triad_page(db: Session, triad, *, errors, form, status_code=200) -> Response:
    row = roster.triad_row(db, triad.id)
    app = apprenticeship.apprenticeship_of(db, triad.id)
    return page("admin/triad_detail.html", status_code=status_code, row=row, errors=errors, form=form,
                apprenticeship=app, program_label=apprenticeship.KINDS[app.kind] if app else "informal mentoring",
                history=triads.mentor_history(db, triad.id), **_triad_choices(db, row.shop))


@post("/admin/triads/{triad_id:int}/mentor", sync_to_thread=True)
def triad_change_mentor(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return _triad_action(db, actor, triad_id, data, lambda t: triads.change_mentor(
        db, actor, t, _as_int(data.get("mentor_id"), "mentor_id"), str(data.get("reason", ""))))


@post("/admin/triads/{triad_id:int}/manager", sync_to_thread=True)
def triad_change_manager(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return _triad_action(db, actor, triad_id, data, lambda t: triads.change_manager(
        db, actor, t, _as_int(data.get("manager_id"), "manager_id")))


@post("/admin/triads/{triad_id:int}/end", sync_to_thread=True)
def triad_end(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return _triad_action(db, actor, triad_id, data, lambda t: triads.end_triad(db, actor, t))


def _triad_action(db: Session, actor: Actor, triad_id: FromPath[int], data: dict, action) -> Response:
    triad = policy.get_triad_for_manager(db, actor, triad_id)
    return submit(db, lambda: action(triad), done=f"/admin/triads/{triad.id}",
                  failed=lambda e: _triad_page(db, triad, errors=e.errors, form=data, status_code=400))


def _as_int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormError({field: "Choose someone from the list."}) from None


# --- enrollments -------------------------------------------------------------------

def _enrollment_choices(db: Session, shop: Organization) -> dict:
    schools = roster.schools(db)
    return {"mentees": policy.people_with_role(db, shop.id, "mentee"), "schools": schools,
            "instructors": [(s, policy.people_with_role(db, s.id, "instructor")) for s in schools],
            "partners": roster.partner_schools(db, shop.id)}


@get("/admin/orgs/{org_id:int}/enrollments/new", sync_to_thread=True)
def enrollment_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    return page("admin/enrollment_form.html", shop=shop, form={}, errors={}, **_enrollment_choices(db, shop))


@post("/admin/orgs/{org_id:int}/enrollments/new", sync_to_thread=True)
def enrollment_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    return submit(db, lambda: triads.create_enrollment(db, actor, shop, parse_input(EnrollmentIn, {
        **data, "consent_active": checkbox(data, "consent_active")})), done=f"/admin/orgs/{shop.id}",
        failed=lambda e: form_error("admin/enrollment_form.html", e, data, shop=shop, **_enrollment_choices(db, shop)))


@post("/admin/enrollments/{enrollment_id:int}/consent", sync_to_thread=True)
def enrollment_consent(db: Db, actor: Me, enrollment_id: FromPath[int], data: FormData) -> Response:
    enrollment = policy.get_enrollment_for_manager(db, actor, enrollment_id)
    triads.set_consent(db, actor, enrollment, checkbox(data, "consent_active"))
    db.commit()
    return see_other(f"/admin/orgs/{enrollment.shop_id}")


@post("/admin/enrollments/{enrollment_id:int}/end", sync_to_thread=True)
def enrollment_end(db: Db, actor: Me, enrollment_id: FromPath[int]) -> Response:
    enrollment: Enrollment = policy.get_enrollment_for_manager(db, actor, enrollment_id)
    if enrollment.ended_at is None:
        triads.end_enrollment(db, actor, enrollment)
        db.commit()
    return see_other(f"/admin/orgs/{enrollment.shop_id}")


HANDLERS = [
    admin_home, org_new, org_create, org_detail, org_edit, org_update, first_admin_new, first_admin_create,
    member_new, member_create, member_delete, invitation_revoke, school_new, school_create, instructor_new,
    instructor_invite, people_template, people_import_page, people_import,
    person_edit, person_update, person_credentials, person_remove,
    triad_new, triad_create, triad_detail, triad_change_mentor, triad_change_manager, triad_end,
    enrollment_new, enrollment_create, enrollment_consent, enrollment_end,
]
