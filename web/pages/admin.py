"""Admin pages: organizations, people and roles, triads, enrollments."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound, parse_input
from mentoring.people import accounts, invitations, roster, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn, PersonIn
from mentoring.people.models import (
    ORG_KINDS,
    SCHOOL_ROLES,
    SHOP_ROLES,
    Enrollment,
    Invitation,
    Membership,
    Organization,
)
from mentoring.people.triads import EnrollmentIn, TriadIn
from web import sessions
from web.render import FormData, checkbox, form_error, page, see_other

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
    try:
        org = accounts.create_organization(db, actor, parse_input(OrganizationIn, {
            **data, **_shop_options(data)}))
    except FormError as e:
        return form_error("admin/org_form.html", e, data, org=None, kinds=ORG_KINDS)
    db.commit()
    return see_other(f"/admin/orgs/{org.id}")


@get("/admin/orgs/{org_id:int}", sync_to_thread=True)
def org_detail(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_shop_for_manager(db, actor, org_id) if not policy.can_administer(actor, org_id) \
        else policy.get_org_for_admin(db, actor, org_id)
    shop_ids = set() if org.is_school else {org.id}
    can_admin = policy.can_administer(actor, org.id)
    return page("admin/org_detail.html", org=org, members=roster.members_of(db, org.id), can_admin=can_admin,
                invitations=invitations.pending_at(db, org.id) if can_admin else [],
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
    try:
        form = {**org.model_dump(), **data} if only else {**data, **_shop_options(data)}
        accounts.update_organization(db, actor, org, parse_input(OrganizationIn, form))
    except FormError as e:
        db.rollback()
        return form_error("admin/org_form.html", e, data, org=org, kinds=ORG_KINDS, only=only)
    db.commit()
    return see_other(f"/admin/orgs/{org.id}" if only is None else "/admin")


@get("/admin/orgs/{org_id:int}/first-admin", sync_to_thread=True)
def first_admin_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_first_admin(db, actor, org_id)
    return page("admin/first_admin_form.html", org=org, form={}, errors={})


@post("/admin/orgs/{org_id:int}/first-admin", sync_to_thread=True)
def first_admin_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_first_admin(db, actor, org_id)
    try:
        invitations.invite_first_admin(db, actor, org, parse_input(NewPersonIn, {**data, "role": "admin"}))
    except FormError as e:
        db.rollback()
        return form_error("admin/first_admin_form.html", e, data, org=org)
    db.commit()
    return see_other("/admin?invited=1")


# --- people and roles ----------------------------------------------------------

def _roles_for(org: Organization) -> tuple[str, ...]:
    return SCHOOL_ROLES if org.is_school else SHOP_ROLES


@get("/admin/orgs/{org_id:int}/members/new", sync_to_thread=True)
def member_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    return page("admin/member_form.html", org=org, roles=_roles_for(org), form={}, errors={})


@post("/admin/orgs/{org_id:int}/members/new", sync_to_thread=True)
def member_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    try:
        added = accounts.add_member(db, actor, org, parse_input(NewPersonIn, data))
    except FormError as e:
        db.rollback()
        return form_error("admin/member_form.html", e, data, org=org, roles=_roles_for(org))
    db.commit()
    return see_other(f"/admin/orgs/{org.id}" + ("?invited=1" if isinstance(added, Invitation) else ""))


@post("/admin/invitations/{invitation_id:int}/revoke", sync_to_thread=True)
def invitation_revoke(db: Db, actor: Me, invitation_id: FromPath[int]) -> Response:
    invitation = invitations.get_for_revoker(db, actor, invitation_id)
    try:
        invitations.revoke(db, actor, invitation)
    except FormError as e:
        return page("error.html", status_code=409, status=409, title="This invitation is closed",
                    detail=" ".join(e.errors.values()), back=f"/admin/orgs/{invitation.organization_id}")
    db.commit()
    return see_other(f"/admin/orgs/{invitation.organization_id}")


@post("/admin/memberships/{membership_id:int}/delete", sync_to_thread=True)
def member_delete(db: Db, actor: Me, membership_id: FromPath[int]) -> Response:
    membership = db.get(Membership, membership_id)
    if membership is None:
        raise NotFound
    org = policy.get_org_for_admin(db, actor, membership.organization_id)
    try:
        accounts.remove_membership(db, actor, membership)
    except FormError as e:
        return page("error.html", status_code=400, status=400, title="This role cannot be removed yet",
                    detail=" ".join(e.errors.values()), back=f"/admin/orgs/{org.id}")
    db.commit()
    return see_other(f"/admin/orgs/{org.id}")


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
    try:
        accounts.update_person(db, actor, person, parse_input(PersonIn, data), active=checkbox(data, "is_active"))
    except FormError as e:
        db.rollback()
        return _person_page(db, actor, person, form=data, errors=e.errors, status_code=400)
    if not person.is_active:
        sessions.end_all_for(db, person.id)
    db.commit()
    return see_other(f"/admin/people/{person.id}?saved=1")


@post("/admin/people/{person_id:int}/credentials", sync_to_thread=True)
def person_credentials(db: Db, actor: Me, person_id: FromPath[int], data: FormData) -> Response:
    """An admin sets a new password and/or PIN, for someone who forgot theirs."""
    person = policy.get_person_for_admin(db, actor, person_id)
    try:
        accounts.reset_credentials(db, actor, person, password=str(data.get("password", "")),
                                 pin=str(data.get("pin", "")))
    except FormError as e:
        db.rollback()
        return _person_page(db, actor, person, form=person.model_dump(), errors=e.errors, status_code=400)
    if data.get("password"):
        sessions.end_all_for(db, person.id)
    db.commit()
    return see_other(f"/admin/people/{person.id}?saved=credentials")


@post("/admin/orgs/{org_id:int}/people/{person_id:int}/remove", sync_to_thread=True)
def person_remove(db: Db, actor: Me, org_id: FromPath[int], person_id: FromPath[int]) -> Response:
    """End every role the person holds at this organization (and their API tokens here), nothing else."""
    org = policy.get_org_for_admin(db, actor, org_id)
    person = policy.get_person_for_admin(db, actor, person_id)
    try:
        accounts.remove_from_org(db, actor, org, person)
    except FormError as e:
        db.rollback()
        return page("error.html", status_code=400, status=400, title="This person cannot be removed yet",
                    detail=" ".join(e.errors.values()), back=f"/admin/people/{person.id}")
    db.commit()
    return see_other(f"/admin/orgs/{org.id}")


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
    try:
        triad = triads.create_triad(db, actor, shop, parse_input(TriadIn, data))
    except FormError as e:
        db.rollback()
        return form_error("admin/triad_form.html", e, data, shop=shop, **_triad_choices(db, shop))
    db.commit()
    return see_other(f"/admin/triads/{triad.id}")


@get("/admin/triads/{triad_id:int}", sync_to_thread=True)
def triad_detail(db: Db, actor: Me, triad_id: FromPath[int]) -> Response:
    triad = policy.get_triad_for_manager(db, actor, triad_id)
    return _triad_page(db, triad, errors={}, form={})


def _triad_page(db: Session, triad, *, errors, form, status_code=200) -> Response:
    row = roster.triad_row(db, triad.id)
    return page("admin/triad_detail.html", status_code=status_code, row=row, errors=errors, form=form,
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
    try:
        action(triad)
    except FormError as e:
        db.rollback()
        return _triad_page(db, triad, errors=e.errors, form=data, status_code=400)
    db.commit()
    return see_other(f"/admin/triads/{triad.id}")


def _as_int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormError({field: "Choose someone from the list."}) from None


# --- enrollments -------------------------------------------------------------------

def _enrollment_choices(db: Session, shop: Organization) -> dict:
    schools = roster.schools(db)
    return {"mentees": policy.people_with_role(db, shop.id, "mentee"), "schools": schools,
            "instructors": [(s, policy.people_with_role(db, s.id, "instructor")) for s in schools]}


@get("/admin/orgs/{org_id:int}/enrollments/new", sync_to_thread=True)
def enrollment_new(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    return page("admin/enrollment_form.html", shop=shop, form={}, errors={}, **_enrollment_choices(db, shop))


@post("/admin/orgs/{org_id:int}/enrollments/new", sync_to_thread=True)
def enrollment_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, org_id)
    try:
        form = parse_input(EnrollmentIn, {**data, "consent_active": checkbox(data, "consent_active")})
        triads.create_enrollment(db, actor, shop, form)
    except FormError as e:
        db.rollback()
        return form_error("admin/enrollment_form.html", e, data, shop=shop, **_enrollment_choices(db, shop))
    db.commit()
    return see_other(f"/admin/orgs/{shop.id}")


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
    member_new, member_create, member_delete, invitation_revoke,
    person_edit, person_update, person_credentials, person_remove,
    triad_new, triad_create, triad_detail, triad_change_mentor, triad_change_manager, triad_end,
    enrollment_new, enrollment_create, enrollment_consent, enrollment_end,
]
