"""Who may see or do what to which object. Guards and handlers call this; nothing else decides."""

from dataclasses import dataclass, field

from sqlalchemy import Select, bindparam, or_
from sqlmodel import Session, select

from mentoring.errors import Forbidden, NotFound
from mentoring.people.models import Enrollment, Membership, Organization, Person, Triad
from mentoring.progress.models import Apprenticeship, Assignment, OfflineConflict, PriorCredit

# The page each role lands on after sign-in, in the order a person with several roles is sent.
HOMES = (
    ("manager", "/manager"),
    ("mentor", "/mentor"),
    ("instructor", "/instructor"),
    ("mentee", "/me"),
    ("admin", "/admin"),
)


@dataclass(frozen=True)
class Actor:
    person_id: int | None  # None: the command line or a system job
    name: str
    is_superuser: bool = False
    memberships: frozenset[tuple[int, str]] = field(default_factory=frozenset)
    ip: str = ""

    def roles_in(self, org_id: int) -> set[str]:
        return {role for org, role in self.memberships if org == org_id}

    def orgs_where(self, *roles: str) -> set[int]:
        return {org for org, role in self.memberships if role in roles}

    def has_role(self, role: str) -> bool:
        return any(r == role for _, r in self.memberships)


@dataclass(frozen=True)
class TokenActor(Actor):
    """An actor authenticated by an API token: memberships hold the token's organization only."""

    token_id: int | None = None
    token_org_id: int | None = None


# The statements below run on nearly every request; composing one costs about as much as running it,
# so they are built once, with bound parameters.
_MEMBERSHIPS = select(Membership.organization_id, Membership.role).where(Membership.person_id == bindparam("person"))


def load_actor(db: Session, person: Person, ip: str = "") -> Actor:
    rows = db.exec(_MEMBERSHIPS, params={"person": person.id}).all()
    return Actor(person.id, person.full_name, person.is_superuser,
                 frozenset((org, role) for org, role in rows), ip)


def home_path(actor: Actor) -> str:
    for role, path in HOMES:
        if actor.has_role(role):
            return path
    return "/admin" if actor.is_superuser else "/account"


def require_role(actor: Actor, role: str) -> None:
    """Role pages (the manager's, the mentor's …) are for people who hold that role somewhere."""
    if not actor.has_role(role):
        raise Forbidden


def require_superuser(actor: Actor) -> None:
    """The site operator's few web pages (README, "Roles, accounts and the site operator"): organizations only."""
    if not actor.is_superuser:
        raise Forbidden


def require_list_editor(actor: Actor) -> None:
    """The catalog pages are for the people who shape task lists: shop managers and admins."""
    if not actor.orgs_where("admin", "manager"):
        raise Forbidden


# --- organizations -----------------------------------------------------------
#
# Authority over an organization's objects comes only from a membership there. The site operator
# (Person.is_superuser) holds none by that flag: through the web they list, create and rename organizations
# and invite an organization's first admin, nothing else; everything else is the CLI's.

def can_administer(actor: Actor, org_id: int) -> bool:
    return "admin" in actor.roles_in(org_id)


def can_manage_shop(actor: Actor, shop_id: int) -> bool:
    """Managers and admins run a shop's triads, enrollments and task lists."""
    return bool({"admin", "manager"} & actor.roles_in(shop_id))


def case_shop_ids(actor: Actor | None) -> set[int]:
    """Shops whose published task lists one may read as CASE frameworks: those one manages or administers.

    The built-in catalog is public; a shop's list is not: its not-applicable reasons, phases and own tasks say how
    the shop works, and nothing lets a shop mark a list as shared with outsiders (yet)."""
    return actor.orgs_where("admin", "manager") if actor is not None else set()


def can_approve(actor: Actor, shop_id: int) -> bool:
    """Approving ("approved by manager") and revoking others' sign-offs belong to the shop's managers; an
    admin who is not also a manager there runs the shop's records, not its mentoring."""
    return "manager" in actor.roles_in(shop_id)


def can_see_pay_plan(actor: Actor, shop_id: int) -> bool:
    """Pay-plan and tool notes: the shop's managers and admins only, never the site operator."""
    return bool({"admin", "manager"} & actor.roles_in(shop_id))


def administered_org_ids(actor: Actor) -> set[int]:
    return actor.orgs_where("admin")


def get_org_for_admin(db: Session, actor: Actor, org_id: int) -> Organization:
    org = db.get(Organization, org_id)
    if org is None or not can_administer(actor, org_id):
        raise NotFound
    return org


# What the site operator may change about an organization; its admins change every setting.
OPERATOR_ORG_FIELDS = frozenset({"name", "kind", "timezone"})


def get_org_for_settings(db: Session, actor: Actor, org_id: int) -> Organization:
    """An organization's name, kind and time zone: its admins and the site operator."""
    org = db.get(Organization, org_id)
    if org is None or not (can_administer(actor, org_id) or actor.is_superuser):
        raise NotFound
    return org


def org_fields_editable_by(actor: Actor, org_id: int) -> frozenset[str] | None:
    """None: every setting; otherwise the operator's few."""
    return None if can_administer(actor, org_id) else OPERATOR_ORG_FIELDS


def get_org_for_first_admin(db: Session, actor: Actor, org_id: int) -> Organization:
    """The site operator invites an organization's first admin, and only while it has none."""
    require_superuser(actor)
    org = db.get(Organization, org_id)
    if org is None:
        raise NotFound
    if db.exec(select(Membership.id).where(Membership.organization_id == org_id,
                                           Membership.role == "admin")).first() is not None:
        raise Forbidden(f"{org.name} already has an admin; its admins add everyone else.")
    return org


def get_shop_for_manager(db: Session, actor: Actor, shop_id: int) -> Organization:
    org = db.get(Organization, shop_id)
    if org is None or org.is_school or not (can_manage_shop(actor, shop_id) or can_administer(actor, shop_id)):
        raise NotFound
    return org


def get_partner_school_for_admin(db: Session, actor: Actor, school_id: int) -> Organization:
    """A school program recorded by one of the actor's shops, while the school has no admin of its own: the
    shop's admins invite its instructors (by email; the instructor accepts). Their accounts stay the
    instructors' own: the shop's admins do not administer the school, so they manage no account there."""
    school = db.get(Organization, school_id)
    if school is None or not school.is_school or school.created_by_org_id not in actor.orgs_where("admin"):
        raise NotFound
    if db.exec(select(Membership.id).where(Membership.organization_id == school.id,
                                           Membership.role == "admin")).first() is not None:
        raise Forbidden(f"{school.name} has its own admins now; they add its instructors.")
    return school


def may_send_password_link(db: Session, org: Organization, person: Person) -> bool:
    """A set-password link goes only to an account this organization made that was never used: no password
    yet and no role elsewhere. Anyone else signs in as themself to accept an invitation."""
    return (person.created_by_org_id == org.id and person.password_hash is None and not person.is_superuser
            and orgs_of(db, person.id) <= {org.id})


_ORGS_OF = select(Membership.organization_id).where(Membership.person_id == bindparam("person")).distinct()


# --- roles held -------------------------------------------------------------

def holds_role(db: Session, person_id: int, org_id: int, role: str) -> bool:
    return db.exec(select(Membership.id).where(
        Membership.person_id == person_id, Membership.organization_id == org_id,
        Membership.role == role)).first() is not None


def people_with_role(db: Session, org_id: int, role: str) -> list[Person]:
    return list(db.exec(select(Person).join(Membership, Membership.person_id == Person.id)
                        .where(Membership.organization_id == org_id, Membership.role == role)
                        .order_by(Person.full_name)).all())


def orgs_of(db: Session, person_id: int) -> set[int]:
    return set(db.exec(_ORGS_OF, params={"person": person_id}).all())


def can_manage_account(db: Session, actor: Actor, person: Person) -> bool:
    """Whether the actor may change a person's name, email, password, PIN and sign-in switch.

    An account is global. Only the organization that created it manages it, and only while the person
    belongs to no other organization: otherwise an admin who adds anyone's email could take the account over.
    A site operator's account is changed only by its person and the CLI."""
    org = person.created_by_org_id
    return (org is not None and not person.is_superuser and can_administer(actor, org)
            and orgs_of(db, person.id) <= {org})


def can_see_person(db: Session, actor: Actor, person: Person) -> bool:
    """An admin sees the people of their organization (and accounts it manages that have no role left)."""
    return bool(actor.orgs_where("admin") & orgs_of(db, person.id)) or can_manage_account(db, actor, person)


def get_person_for_admin(db: Session, actor: Actor, person_id: int) -> Person:
    person = db.get(Person, person_id)
    if person is None or not can_see_person(db, actor, person):
        raise NotFound
    return person


def memberships_shown_to(actor: Actor, memberships: list[tuple[Membership, Organization]]) -> list:
    """An admin sees a person's roles at the admin's own organizations only: where else the person works is
    not theirs to know."""
    mine = actor.orgs_where("admin")
    return [(m, org) for m, org in memberships if org.id in mine]


def require_account_manager(db: Session, actor: Actor, person: Person) -> None:
    """403 with the reason: the admin sees this person, but the account is not theirs to change."""
    if not can_manage_account(db, actor, person):
        raise Forbidden(f"{person.full_name}'s account is not managed by your organization: it was created "
                        "elsewhere or is shared with another organization. Only the person (on their account "
                        "page) or the site operator (with the `mentoring users` command) can change its name, "
                        "email, password or PIN. You can still change or end their roles at your organization.")


def _get_then(db: Session, model, object_id: int, check):
    """An object by id, after `check` (a policy getter) passes for it; 404 when there is none."""
    found = db.get(model, object_id)
    if found is None:
        raise NotFound
    check(found)
    return found


def get_triad_for_manager(db: Session, actor: Actor, triad_id: int) -> Triad:
    return _get_then(db, Triad, triad_id, lambda t: get_shop_for_manager(db, actor, t.shop_id))


def get_membership_for_admin(db: Session, actor: Actor, membership_id: int) -> Membership:
    return _get_then(db, Membership, membership_id, lambda m: get_org_for_admin(db, actor, m.organization_id))


def get_enrollment_for_manager(db: Session, actor: Actor, enrollment_id: int) -> Enrollment:
    return _get_then(db, Enrollment, enrollment_id, lambda e: get_shop_for_manager(db, actor, e.shop_id))


# --- mentees -----------------------------------------------------------------

def visible_mentee_ids(actor: Actor) -> Select:
    """A query for the ids of every mentee this actor may follow.

    Managers, admins and mentors see the mentees of their own shops (any mentor there may observe and sign a
    task, e.g. after a group demonstration); a mentee sees themself; an instructor sees consented students."""
    shops = actor.orgs_where("admin", "manager", "mentor")
    clauses = [Membership.person_id == actor.person_id]
    if shops:
        clauses.append(Membership.organization_id.in_(shops))
    return (
        select(Membership.person_id).where(Membership.role == "mentee", or_(*clauses))
        .union(consented_student_ids(actor.person_id))
    )


def consented_student_ids(instructor_id: int) -> Select:
    """Students an instructor may see: enrolled with them, consent on, and still an instructor there."""
    return (
        select(Enrollment.mentee_id)
        .join(Membership, (Membership.person_id == Enrollment.instructor_id)
              & (Membership.organization_id == Enrollment.school_id)
              & (Membership.role == "instructor"))
        .where(Enrollment.instructor_id == instructor_id, Enrollment.consent_active.is_(True),
               Enrollment.ended_at.is_(None))
    )


_MENTEE_AT = (select(Membership.person_id).where(Membership.person_id == bindparam("mentee"),
                                                 Membership.role == "mentee",
                                                 Membership.organization_id.in_(bindparam("shops", expanding=True)))
              .limit(1))
_IS_MENTEE = select(Membership.person_id).where(Membership.person_id == bindparam("mentee"),
                                                Membership.role == "mentee").limit(1)
_CONSENTED = (consented_student_ids(bindparam("instructor")).where(Enrollment.mentee_id == bindparam("mentee"))
              .limit(1))


_CONSENTED_AT = (consented_student_ids(bindparam("instructor"))
                 .where(Enrollment.mentee_id == bindparam("mentee"), Enrollment.shop_id == bindparam("shop"))
                 .limit(1))


def can_view_mentee(db: Session, actor: Actor, mentee_id: int, shop_id: int | None = None) -> bool:
    """visible_mentee_ids for one mentee, as at most two short lookups: every task page and sign-off asks.

    With shop_id (an assignment's shop), only that shop's standing counts: a person who is a mentee at two
    shops is not one mentee to both, and the second shop's people see nothing of the first's work."""
    if mentee_id == actor.person_id:
        if db.exec(_IS_MENTEE, params={"mentee": mentee_id}).first() is not None:
            return True
    else:
        shops = actor.orgs_where("admin", "manager", "mentor")
        if shop_id is not None:
            shops &= {shop_id}
        if shops and db.exec(_MENTEE_AT, params={"mentee": mentee_id, "shops": sorted(shops)}).first() is not None:
            return True
    if actor.person_id is None:
        return False
    if shop_id is not None:
        return db.exec(_CONSENTED_AT, params={"instructor": actor.person_id, "mentee": mentee_id,
                                              "shop": shop_id}).first() is not None
    return db.exec(_CONSENTED, params={"instructor": actor.person_id, "mentee": mentee_id}).first() is not None


def assignment_visible(actor: Actor):
    """A WHERE clause on Assignment: can_view_mentee with the assignment's shop, for lists of assignments."""
    from sqlalchemy import and_, exists

    mentee_there = exists().where(Membership.person_id == Assignment.mentee_id, Membership.role == "mentee",
                                  Membership.organization_id == Assignment.shop_id)
    clauses = [and_(Assignment.mentee_id == actor.person_id, mentee_there)]
    if shops := actor.orgs_where("admin", "manager", "mentor"):
        clauses.append(and_(Assignment.shop_id.in_(sorted(shops)), mentee_there))
    if actor.person_id is not None:
        clauses.append(Assignment.mentee_id.in_(
            consented_student_ids(actor.person_id).where(Enrollment.shop_id == Assignment.shop_id)))
    return or_(*clauses)


def mentee_shops_visible_to(db: Session, actor: Actor, mentee_id: int) -> set[int] | None:
    """The shops whose work with this mentee the actor may see on the mentee's page; None: all (their own).

    A person can be a mentee at two shops: each shop's people (and an instructor with that shop's consent) see
    that shop's part only."""
    if actor.person_id is not None and actor.person_id == mentee_id:
        return None
    shops: set[int] = set()
    if mine := actor.orgs_where("admin", "manager", "mentor"):
        shops |= set(db.exec(select(Membership.organization_id).where(
            Membership.person_id == mentee_id, Membership.role == "mentee",
            Membership.organization_id.in_(sorted(mine)))).all())
    if actor.person_id is not None:
        shops |= set(db.exec(select(Enrollment.shop_id)
                             .join(Membership, (Membership.person_id == Enrollment.instructor_id)
                                   & (Membership.organization_id == Enrollment.school_id)
                                   & (Membership.role == "instructor"))
                             .where(Enrollment.instructor_id == actor.person_id, Enrollment.mentee_id == mentee_id,
                                    Enrollment.consent_active.is_(True), Enrollment.ended_at.is_(None))).all())
    return shops


def get_mentee_for_viewer(db: Session, actor: Actor, mentee_id: int) -> Person:
    person = db.get(Person, mentee_id)
    if person is None or not can_view_mentee(db, actor, mentee_id):
        raise NotFound
    return person


def can_see_enrollment(actor: Actor, enrollment: Enrollment) -> bool:
    """The student, the shop's managers and admins, and the enrollment's own instructor."""
    return (enrollment.mentee_id == actor.person_id or can_manage_shop(actor, enrollment.shop_id)
            or (enrollment.instructor_id == actor.person_id and enrollment.consent_active))


# --- signatures on a mentee's tasks -----------------------------------------------------------

def may_sign(actor: Actor, assignment: Assignment, triad: Triad, shop: Organization) -> bool:
    """Who signs a mentee's task: a mentor of the shop who is the triad's current mentor, or any mentor of the
    shop when the shop lets any of them sign (group demonstrations). Never the mentee.

    The one rule for every surface: task pages, the task rows fragment, group sign-off, the tablet's list of
    mentees, and the API (which also reaches assignments through it)."""
    if actor.person_id is None or actor.person_id == assignment.mentee_id:
        return False
    if triad.id != assignment.triad_id or shop.id != assignment.shop_id:
        return False
    if "mentor" not in actor.roles_in(shop.id):
        return False
    return shop.any_mentor_signs or triad.mentor_id == actor.person_id


def may_sign_assignment(db: Session, actor: Actor, assignment: Assignment) -> bool:
    """may_sign, loading the assignment's triad and shop (the session usually holds them already)."""
    return may_sign(actor, assignment, db.get(Triad, assignment.triad_id), db.get(Organization, assignment.shop_id))


_INSTRUCTS = (select(Enrollment.id)
              .join(Membership, (Membership.person_id == Enrollment.instructor_id)
                    & (Membership.organization_id == Enrollment.school_id) & (Membership.role == "instructor"))
              .where(Enrollment.instructor_id == bindparam("instructor"), Enrollment.mentee_id == bindparam("mentee"),
                     Enrollment.shop_id == bindparam("shop"), Enrollment.consent_active.is_(True),
                     Enrollment.ended_at.is_(None), Enrollment.school_id.in_(bindparam("schools", expanding=True)))
              .limit(1))


def countersign_role(db: Session, actor: Actor, assignment: Assignment, signer_id: int | None) -> str | None:
    """As what the actor may countersign a sign-off given by signer_id: "manager" (approved by manager),
    "instructor" (verified by instructor) or None.

    A manager approves for their own shop. An instructor verifies only for a student whose enrollment at this
    shop names them, with the shop's consent on, not ended, while they are still an instructor at that school
    (an instructor role elsewhere counts for nothing). Nobody countersigns their own sign-off: a second
    signature means a second person."""
    if actor.person_id is None or actor.person_id == signer_id:
        return None
    if can_approve(actor, assignment.shop_id):
        return "manager"
    schools = actor.orgs_where("instructor")  # an API token holds its own organization's roles only
    if schools and db.exec(_INSTRUCTS, params={"instructor": actor.person_id, "mentee": assignment.mentee_id,
                                               "shop": assignment.shop_id, "schools": sorted(schools)}).first():
        return "instructor"
    return None


# --- offline sign-offs that met a changed task (issue #15) ---------------------------------------------

def can_settle_offline_conflict(actor: Actor, conflict: OfflineConflict) -> bool:
    """An offline sign-off kept as a conflict is the business of the mentor who signed it and the shop's
    managers (who approve and revoke sign-offs there); nobody else sees it, not even that it exists."""
    return actor.person_id is not None and (
        (actor.person_id == conflict.mentor_id and "mentor" in actor.roles_in(conflict.shop_id))
        or can_approve(actor, conflict.shop_id))


def sees_all_offline_conflicts(actor: Actor, shop_id: int) -> bool:
    """A shop's managers see all its conflicts; a mentor sees their own (can_settle_offline_conflict)."""
    return can_approve(actor, shop_id)


def may_sign_from_offline_conflict(actor: Actor, conflict: OfflineConflict) -> bool:
    """Only the mentor who signed offline may turn the kept sign-off into a signature on record."""
    return actor.person_id is not None and actor.person_id == conflict.mentor_id


def get_offline_conflict(db: Session, actor: Actor, conflict_id: int) -> OfflineConflict:
    return _get_then(db, OfflineConflict, conflict_id, lambda c: None if can_settle_offline_conflict(actor, c)
                     else _not_found())


def get_shop_for_offline_conflicts(db: Session, actor: Actor, shop_id: int) -> Organization:
    """The shop's list of conflicts: its managers see all, its mentors their own (sees_all_offline_conflicts)."""
    shop = db.get(Organization, shop_id)
    if shop is None or shop.is_school or not ({"manager", "mentor"} & actor.roles_in(shop_id)):
        raise NotFound
    return shop


def _not_found():
    raise NotFound


# --- pay plans, tools and reviews ------------------------------------------------------------

def pay_plan_access(actor: Actor, shop_id: int, mentee_id: int) -> str | None:
    """How much of a mentee's pay plan and tool notes the actor may read: "all", "shared" or None.

    The shop's managers and admins see everything; the mentee sees what a manager marked as shared;
    mentors, instructors, other shops and the site operator see nothing, not even that it exists."""
    if can_see_pay_plan(actor, shop_id):
        return "all"
    if actor.person_id is not None and actor.person_id == mentee_id:
        return "shared"
    return None


def can_see_reviews(actor: Actor, triad: Triad) -> bool:
    """Reviews belong to the triad: its three people and the shop's managers and admins."""
    return (actor.person_id in (triad.mentee_id, triad.mentor_id, triad.manager_id)
            or can_manage_shop(actor, triad.shop_id))


def get_active_triad_for_pay_plan(db: Session, actor: Actor, mentee_id: int) -> Triad:
    """The mentee's current triad, when the actor may edit that shop's pay plans; otherwise 404."""
    triad = db.exec(select(Triad).where(Triad.mentee_id == mentee_id, Triad.ended_at.is_(None))).first()
    if triad is None or not can_see_pay_plan(actor, triad.shop_id):
        raise NotFound
    return triad


# --- completion records (exports) ----------------------------------------------

def can_export_record(actor: Actor, assignment) -> bool:
    """A completion record goes to the shop's managers and admins, and to the mentee for their own."""
    return (can_manage_shop(actor, assignment.shop_id) or can_administer(actor, assignment.shop_id)
            or actor.person_id == assignment.mentee_id)


def may_recheck_credit(db: Session, actor: Actor, assignment) -> bool:
    """Re-checking a task credited for prior learning: whoever may sign the mentee's tasks (the triad's mentor),
    or the shop's managers and admins. Never the mentee."""
    if actor.person_id is not None and actor.person_id == assignment.mentee_id:
        return False
    return can_manage_shop(actor, assignment.shop_id) or may_sign_assignment(db, actor, assignment)


def get_assignment_for_prior(db: Session, actor: Actor, assignment_id: int, *, crediting: bool) -> Assignment:
    """Credit for prior learning: the shop's managers and admins credit; the triad's mentor sees the page to
    re-check; the mentee gets 403; everyone else 404."""
    assignment = db.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound
    if can_issue_records(actor, assignment.shop_id):
        return assignment
    may_recheck = may_recheck_credit(db, actor, assignment)
    if may_recheck and not crediting:
        return assignment
    if may_recheck or can_export_record(actor, assignment):
        raise Forbidden
    raise NotFound


def get_credit_for_recheck(db: Session, actor: Actor, credit_id: int) -> tuple[PriorCredit, Assignment]:
    """The triad's mentor or the shop's managers re-check; the mentee sees the credit but may not (403);
    anyone else gets 404."""
    row = db.get(PriorCredit, credit_id)
    assignment = db.get(Assignment, row.assignment_id) if row else None
    if assignment is None:
        raise NotFound
    if may_recheck_credit(db, actor, assignment):
        return row, assignment
    if can_export_record(actor, assignment):
        raise Forbidden
    raise NotFound


def can_issue_records(actor: Actor, shop_id: int) -> bool:
    """Issuing and revoking credentials, revoking records and bulk exports: the shop's managers and admins."""
    return can_manage_shop(actor, shop_id)


def get_shop_for_record_issuer(db: Session, actor: Actor, shop_id: int) -> Organization:
    """A shop whose records the actor may export in bulk: its managers and admins, not a site operator who is
    neither; everyone else gets 404."""
    shop = get_shop_for_manager(db, actor, shop_id)
    if not can_issue_records(actor, shop.id):
        raise NotFound
    return shop


def require_record_issuer(actor: Actor, shop_id: int) -> None:
    """For someone who may see the record (the mentee) but not issue or revoke: 403, not 404."""
    if not can_issue_records(actor, shop_id):
        raise Forbidden


def get_assignment_for_exporter(db: Session, actor: Actor, assignment_id: int):
    assignment = db.get(Assignment, assignment_id)
    if assignment is None or not can_export_record(actor, assignment):
        raise NotFound
    return assignment


# --- API tokens and triad lists -----------------------------------------------------------------

def triad_visible(actor: Actor):
    """A WHERE clause on Triad for the active triads an actor may list: managers and admins their shops'
    triads, mentors and mentees their own, instructors their consented students'. A token sees only what
    its organization grants: its memberships hold that one organization, and own triads and students must
    sit under it too."""
    from sqlalchemy import and_, false

    scoped = isinstance(actor, TokenActor)
    member_of = sorted({org for org, _ in actor.memberships})
    clauses = []
    if shops := actor.orgs_where("admin", "manager"):
        clauses.append(Triad.shop_id.in_(sorted(shops)))
    if actor.person_id is not None:
        own = or_(Triad.mentor_id == actor.person_id, Triad.mentee_id == actor.person_id)
        clauses.append(and_(own, Triad.shop_id.in_(member_of)) if scoped else own)
        students = consented_student_ids(actor.person_id).where(Enrollment.shop_id == Triad.shop_id)
        if scoped:
            students = students.where(Enrollment.school_id.in_(member_of))
        clauses.append(Triad.mentee_id.in_(students))
    return and_(Triad.ended_at.is_(None), or_(*clauses) if clauses else false())


def in_token_scope(db: Session, actor: Actor, assignment: Assignment) -> bool:
    """Whether the token's organization alone grants sight of the assignment (always true without a token).

    Used on top of the rules above, which also count triads and enrollments that are not org-scoped."""
    if not isinstance(actor, TokenActor):
        return True
    org = actor.token_org_id
    if assignment.shop_id == org:
        if can_manage_shop(actor, org) or assignment.mentee_id == actor.person_id:
            return True
        if "mentor" not in actor.roles_in(org):
            return False
        # The mentees whose tasks the mentor may sign: with the shop's "any mentor signs" on, that is every
        # mentee of the shop, as on the pages (may_sign); otherwise those of their own triads.
        triad = db.get(Triad, assignment.triad_id)
        if triad.ended_at is None and may_sign(actor, assignment, triad, db.get(Organization, org)):
            return True
        return db.exec(select(Triad.id).where(
            Triad.shop_id == org, Triad.mentee_id == assignment.mentee_id, Triad.mentor_id == actor.person_id,
            Triad.ended_at.is_(None))).first() is not None
    return "instructor" in actor.roles_in(org) and db.exec(select(Enrollment.id).where(
        Enrollment.school_id == org, Enrollment.shop_id == assignment.shop_id,
        Enrollment.mentee_id == assignment.mentee_id, Enrollment.instructor_id == actor.person_id,
        Enrollment.consent_active.is_(True), Enrollment.ended_at.is_(None))).first() is not None


# --- sponsor exports of registered apprenticeships -------------------------------------------------

def get_shop_for_sponsor_export(db: Session, actor: Actor, shop_id: int) -> Organization:
    """The sponsor's batch file carries wage rates: the shop's managers and admins only; everyone else 404."""
    shop = db.get(Organization, shop_id)
    if shop is None or shop.is_school or not can_see_pay_plan(actor, shop_id):
        raise NotFound
    return shop


def get_apprenticeship_for_sponsor_export(db: Session, actor: Actor, apprenticeship_id: int):
    app = db.get(Apprenticeship, apprenticeship_id)
    if app is None or not can_see_pay_plan(actor, app.shop_id):
        raise NotFound
    return app


# --- registered apprenticeships ----------------------------------------------------------------

def get_triad_for_program(db: Session, actor: Actor, triad_id: int) -> Triad:
    """A triad's program type and schedule are set by the shop's managers and admins, like the triad itself."""
    return get_triad_for_manager(db, actor, triad_id)


def get_apprenticeship_for_viewer(db: Session, actor: Actor, apprenticeship_id: int):
    """An apprenticeship's OJL and RTI totals: whoever may follow the mentee at that shop (the mentee, the shop's
    people, an instructor only while the student's consent for that shop is on); 404 for everyone else."""
    app = db.get(Apprenticeship, apprenticeship_id)
    triad = db.get(Triad, app.triad_id) if app else None
    if triad is None or not can_view_mentee(db, actor, triad.mentee_id, app.shop_id):
        raise NotFound
    return app


# --- on-the-job hours of a registered apprenticeship (issue #18) ----------------------------------

def can_see_hours(actor: Actor, triad: Triad) -> bool:
    """A triad's hours ledger: its mentee and mentor, and the shop's managers and admins."""
    return actor.person_id is not None and (
        actor.person_id in (triad.mentee_id, triad.mentor_id) or can_manage_shop(actor, triad.shop_id))


def can_log_hours(actor: Actor, triad: Triad) -> bool:
    """Hours are the apprentice's own account of their work: only the triad's mentee logs and corrects them."""
    return actor.person_id is not None and actor.person_id == triad.mentee_id and triad.ended_at is None


def can_approve_hours(actor: Actor, triad: Triad) -> bool:
    """The triad's mentor (while a mentor there) or a manager of the shop approves or returns hours; never the
    mentee, whatever else they are at the shop: nobody vouches for their own hours."""
    if actor.person_id is None or actor.person_id == triad.mentee_id:
        return False
    return ((triad.mentor_id == actor.person_id and "mentor" in actor.roles_in(triad.shop_id))
            or can_approve(actor, triad.shop_id))


def get_triad_for_hours(db: Session, actor: Actor, triad_id: int) -> Triad:
    """The triad, when the actor may see its hours; otherwise 404 (whether it exists stays unsaid)."""
    return _get_then(db, Triad, triad_id, lambda t: None if can_see_hours(actor, t) else _not_found())


def rti_school(db: Session, actor: Actor, app) -> int | None:
    """Who records classroom hours (RTI), and for which school: the instructor of a consented enrollment of the
    apprentice at this shop (their school), or, only when no school shares the student's record with the shop,
    the shop's managers and admins (no school). Everyone else: 403."""
    triad = db.get(Triad, app.triad_id)
    rows = db.exec(select(Enrollment.school_id, Enrollment.instructor_id)
                   .join(Membership, (Membership.person_id == Enrollment.instructor_id)
                         & (Membership.organization_id == Enrollment.school_id) & (Membership.role == "instructor"))
                   .where(Enrollment.mentee_id == triad.mentee_id, Enrollment.shop_id == app.shop_id,
                          Enrollment.consent_active.is_(True), Enrollment.ended_at.is_(None))).all()
    for school_id, instructor_id in rows:
        if actor.person_id is not None and instructor_id == actor.person_id:
            return school_id
    if not rows and can_manage_shop(actor, app.shop_id):
        return None
    raise Forbidden


def may_record_rti(db: Session, actor: Actor, app) -> bool:
    try:
        rti_school(db, actor, app)
    except Forbidden:
        return False
    return True
