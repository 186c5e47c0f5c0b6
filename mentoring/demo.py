"""Demo data that reads like a real dealer group and its local college."""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, select

from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.people import accounts, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Membership, Organization, Person, Triad
from mentoring.people.triads import EnrollmentIn, TriadIn
from mentoring.progress import customize, program, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.evidence import Evidence
from mentoring.progress.models import Assignment
from tasklists import store

DEMO_PASSWORD = "demo-mentoring-2026"
DEMO_PIN = "7193"

ORGS = [
    ("Riverside Toyota", "dealership"),
    ("Hillcrest Auto Repair", "independent"),
    ("Lakeview Community College - Automotive Technology", "school"),
]

# (name, email, organization, roles)
PEOPLE = [
    ("Dana Whitfield", "dana.whitfield@riverside.example", "Riverside Toyota", ["admin"]),
    ("Marcus Bell", "marcus.bell@riverside.example", "Riverside Toyota", ["manager"]),
    ("Luis Ortega", "luis.ortega@riverside.example", "Riverside Toyota", ["mentor"]),
    ("Janelle Price", "janelle.price@riverside.example", "Riverside Toyota", ["mentor"]),
    ("Tyler Brooks", "tyler.brooks@riverside.example", "Riverside Toyota", ["mentee"]),
    ("Aisha Khan", "aisha.khan@riverside.example", "Riverside Toyota", ["mentee"]),
    ("Devon Miller", "devon.miller@riverside.example", "Riverside Toyota", ["mentee"]),
    ("Rosa Delgado", "rosa.delgado@hillcrest.example", "Hillcrest Auto Repair", ["admin", "manager"]),
    ("Hank Doyle", "hank.doyle@hillcrest.example", "Hillcrest Auto Repair", ["mentor"]),
    ("Emily Chen", "emily.chen@hillcrest.example", "Hillcrest Auto Repair", ["mentee"]),
    ("Karen Holt", "karen.holt@lakeview.example", "Lakeview Community College - Automotive Technology",
     ["instructor"]),
]

TRIADS = [  # mentee, mentor, manager
    ("Tyler Brooks", "Luis Ortega", "Marcus Bell"),
    ("Aisha Khan", "Luis Ortega", "Marcus Bell"),
    ("Devon Miller", "Janelle Price", "Marcus Bell"),
    ("Emily Chen", "Hank Doyle", "Rosa Delgado"),
]

ENROLLMENTS = [  # student, consent on?
    ("Aisha Khan", True),
    ("Devon Miller", False),  # enrolled, but the shop has not turned sharing on
]

OPERATOR = ("Site Operator", "operator@mentoring.example")


@dataclass(frozen=True)
class Login:
    email: str
    name: str
    roles: str


def is_seeded(db: Session) -> bool:
    return db.exec(select(Organization.id).where(Organization.name == ORGS[0][0])).first() is not None


def seed(db: Session) -> bool:
    """Create the demo once; return False when it was already there."""
    if is_seeded(db):
        return False
    operator = accounts.create_person(db, None, accounts.PersonIn(full_name=OPERATOR[0], email=OPERATOR[1]),
                                    password=DEMO_PASSWORD, superuser=True)
    actor = Actor(operator.id, operator.full_name, True, ip="demo")
    orgs = {name: accounts.create_organization(db, actor, OrganizationIn(name=name, kind=kind))
            for name, kind in ORGS}
    ids: dict[str, int] = {}
    for name, email, org, roles in PEOPLE:
        for i, role in enumerate(roles):
            person = accounts.add_member(db, actor, orgs[org], NewPersonIn(
                full_name=name, email=email, role=role,
                password=DEMO_PASSWORD if i == 0 else "", pin=DEMO_PIN if i == 0 else ""))
            ids[name] = person.id
    for mentee, mentor, manager in TRIADS:
        shop = next(orgs[o] for n, _, o, _ in PEOPLE if n == mentee)
        triads.create_triad(db, actor, shop, TriadIn(mentee_id=ids[mentee], mentor_id=ids[mentor],
                                                     manager_id=ids[manager]))
    school = orgs[ORGS[2][0]]
    for student, consent in ENROLLMENTS:
        triads.create_enrollment(db, actor, orgs["Riverside Toyota"], EnrollmentIn(
            mentee_id=ids[student], school_id=school.id, instructor_id=ids["Karen Holt"],
            consent_active=consent))
    _task_lists(db, actor, orgs, ids)
    _history(db)
    _reviews_pay_and_tools(db, actor, orgs["Riverside Toyota"])
    _completed_areas(db, actor, orgs)
    _apprenticeship(db, orgs)
    db.flush()
    return True


def _task_lists(db: Session, actor: Actor, orgs: dict, ids: dict) -> None:
    """Each shop runs a published list; Riverside has customized its own a little."""
    templates = {t.program: t for t, _ in store.load_catalog(db)}
    riverside, hillcrest = orgs["Riverside Toyota"], orgs["Hillcrest Auto Repair"]
    mlr = customize.start_list(db, actor, riverside, template_id=templates["automobile"].id, level="MLR",
                               name="Riverside MLR apprentices")
    customize.edit_task(db, actor, mlr, "0.A.1", "phase", {"phase": "First 30 days"})
    customize.add_shop_task(db, actor, mlr, {"section": "V.B", "priority": "P-2",
                                             "statement": "Flush brake fluid with the shop's pressure bleeder "
                                                          "and record the moisture reading on the repair order."})
    v1 = customize.publish(db, actor, mlr)
    hill = customize.start_list(db, actor, hillcrest, template_id=templates["automobile"].id, level="MLR",
                                name="Hillcrest MLR")
    v2 = customize.publish(db, actor, hill)
    start = date.today() - timedelta(weeks=10)
    for triad in db.exec(select(Triad)).all():
        version = v1 if triad.shop_id == riverside.id else v2
        customize.assign(db, actor, riverside if triad.shop_id == riverside.id else hillcrest, AssignmentIn(
            triad_id=triad.id, version_id=version.id, start_date=start, target_date=start + timedelta(weeks=52)))


def logins(db: Session) -> list[Login]:
    rows = db.exec(select(Person, Membership.role).join(Membership, Membership.person_id == Person.id)
                   .where(Person.email.in_([e for _, e, _, _ in PEOPLE]))).all()
    roles: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for person, role in rows:
        roles.setdefault(person.email, []).append(role)
        names[person.email] = person.full_name
    result = [Login(OPERATOR[1], OPERATOR[0], "site operator")]
    result += [Login(email, names[email], ", ".join(sorted(roles[email])))
               for _, email, _, _ in PEOPLE if email in roles]
    return result


# How far each demo mentee has come: (tasks signed, tasks in practice, tasks ready for sign-off).
PROGRESS = {"Tyler Brooks": (24, 5, 3), "Aisha Khan": (46, 4, 2), "Devon Miller": (9, 3, 1), "Emily Chen": (18, 4, 2)}


def _history(db: Session) -> None:
    """Ten weeks of realistic work: practice, requests and sign-offs, oldest first so the chain reads in order."""
    rng = random.Random(2026)
    now = utcnow()
    for assignment in db.exec(select(Assignment).order_by(Assignment.id)).all():
        mentee = db.get(Person, assignment.mentee_id)
        triad = db.get(Triad, assignment.triad_id)
        mentor, manager = db.get(Person, triad.mentor_id), db.get(Person, triad.manager_id)
        as_mentee, as_mentor, as_manager = (_actor(db, p) for p in (mentee, mentor, manager))
        signed, practising, ready = PROGRESS[mentee.full_name]
        open_tasks = [t for t in signoffs.tasks_of(db, assignment) if not t.not_applicable]
        moment = now - timedelta(weeks=10)
        step = (timedelta(weeks=9) / max(signed, 1))
        for i, task in enumerate(open_tasks[:signed]):
            moment += step
            signoffs.log_practice(db, as_mentee, assignment.id, task.code, hours=rng.choice(["0.5", "1", "1.5", "2"]),
                                  at=moment)
            signoffs.request_signoff(db, as_mentee, assignment.id, task.code, at=moment + timedelta(hours=3))
            signoffs.sign_off(db, as_mentor, assignment.id, task.code, rating=rng.choice([3, 3, 4, 4, 5]), pin=None,
                              evidence=Evidence(ro_number=f"RO-{rng.randint(10000, 99999)}"),
                              device="shop tablet: Bay 2", at=moment + timedelta(days=1))
            if i % 6 == 0:
                signoffs.countersign(db, as_manager, assignment.id, task.code, at=moment + timedelta(days=2))
        later = open_tasks[signed:signed + practising + ready]
        for i, task in enumerate(later):
            moment = now - timedelta(days=6 - i * 0.5, hours=rng.randint(1, 5))
            signoffs.log_practice(db, as_mentee, assignment.id, task.code, hours="1", at=moment)
            if i >= practising:
                signoffs.request_signoff(db, as_mentee, assignment.id, task.code, at=moment + timedelta(hours=2))


def _actor(db: Session, person: Person) -> Actor:
    from mentoring.access.policy import load_actor
    return load_actor(db, person, ip="demo")


def _reviews_pay_and_tools(db: Session, actor: Actor, shop: Organization) -> None:
    """Manager material at Riverside, so that every dashboard flag shows: one overdue review, one pay step
    due, tool notes, and a stalled mentee (Jordan, whose last sign-off was five weeks ago)."""
    from mentoring.oversight import dashboard, payplan, reviews

    now = utcnow()
    mentor = db.exec(select(Person).where(Person.email == "janelle.price@riverside.example")).one()
    manager = db.exec(select(Person).where(Person.email == "marcus.bell@riverside.example")).one()
    jordan = accounts.add_member(db, actor, shop, NewPersonIn(full_name="Jordan Reyes", role="mentee",
                                                            email="jordan.reyes@riverside.example"))
    triad = triads.create_triad(db, actor, shop, TriadIn(mentee_id=jordan.id, mentor_id=mentor.id,
                                                         manager_id=manager.id))
    version = db.get(Assignment, db.exec(select(Assignment.id).where(Assignment.shop_id == shop.id)).first())
    assignment = customize.assign(db, actor, shop, AssignmentIn(
        triad_id=triad.id, version_id=version.version_id, start_date=date.today() - timedelta(weeks=10)))
    as_mentor, as_jordan = _actor(db, mentor), _actor(db, jordan)
    for i, task in enumerate([t for t in signoffs.tasks_of(db, assignment) if not t.not_applicable][:6]):
        moment = now - timedelta(weeks=9) + timedelta(days=5 * i)
        signoffs.log_practice(db, as_jordan, assignment.id, task.code, hours="1", at=moment)
        signoffs.sign_off(db, as_mentor, assignment.id, task.code, rating=3, pin=None, at=moment + timedelta(days=1))

    as_manager = _actor(db, manager)
    for t in db.exec(select(Triad).where(Triad.shop_id == shop.id).order_by(Triad.id)).all():
        t.started_at = now - timedelta(weeks=10)  # the triads began with their task lists
        db.add(t)
        mentee = db.get(Person, t.mentee_id)
        for review in reviews.schedule_standard(db, as_manager, t):
            if review.kind == "90":
                continue
            # Everyone finished their check-ins except Tyler's 60-day one: the manager alone has signed it.
            signers = [manager] if (review.kind == "60" and mentee.full_name == "Tyler Brooks") else \
                [manager, db.get(Person, t.mentor_id), mentee]
            for person in signers:
                reviews.sign(db, _actor(db, person), review, t, f"{review.title}: steady work; keep going.")
    by_mentee = {db.get(Person, t.mentee_id).full_name: t for t in db.exec(select(Triad)).all()}
    payplan.add_pay_step(db, as_manager, by_mentee["Aisha Khan"], dict(
        title="First raise", amount="1.50", milestone="coverage", milestone_percent="20",
        note="Agreed at hiring: first raise once a fifth of the list is signed."))
    payplan.add_pay_step(db, as_manager, by_mentee["Tyler Brooks"], dict(
        title="Brakes raise", percent="3", milestone="area_p1", milestone_area="V", shared=True,
        note="Tyler asked about this in the 30-day check-in."))
    payplan.add_pay_step(db, as_manager, by_mentee["Devon Miller"], dict(
        title="Six-month step", amount="1.00", milestone="date",
        milestone_date=(date.today() + timedelta(weeks=16)).isoformat()))
    payplan.add_tool_record(db, as_manager, by_mentee["Tyler Brooks"], dict(
        kind="allowance", description="Yearly tool allowance", amount="500", on_date=date.today().replace(day=1),
        shared=True))
    payplan.add_tool_record(db, as_manager, by_mentee["Tyler Brooks"], dict(
        kind="loan", description="3/8 in. click torque wrench", on_date=date.today() - timedelta(days=12),
        due_back_on=date.today() + timedelta(days=2), note="Shop tool, serial 4471."))
    payplan.add_tool_record(db, as_manager, by_mentee["Aisha Khan"], dict(
        kind="issue", description="Safety glasses and nitrile gloves", on_date=date.today() - timedelta(weeks=9)))
    dashboard.set_stalled_days(db, as_manager, shop, 14)


COMPLETED_MENTEE = ("Sam Okafor", "sam.okafor@hillcrest.example")


def _completed_areas(db: Session, actor: Actor, orgs: dict) -> None:
    """A Hillcrest mentee who has finished the safety tasks and the whole brakes area, so that records,
    credentials and verification can be tried at once. One brake sign-off was revoked and signed again."""
    shop = orgs["Hillcrest Auto Repair"]
    mentor = db.exec(select(Person).where(Person.email == "hank.doyle@hillcrest.example")).one()
    manager = db.exec(select(Person).where(Person.email == "rosa.delgado@hillcrest.example")).one()
    sam = accounts.add_member(db, actor, shop, NewPersonIn(full_name=COMPLETED_MENTEE[0], email=COMPLETED_MENTEE[1],
                                                         role="mentee", password=DEMO_PASSWORD, pin=DEMO_PIN))
    triad = triads.create_triad(db, actor, shop, TriadIn(mentee_id=sam.id, mentor_id=mentor.id, manager_id=manager.id))
    version_id = db.exec(select(Assignment.version_id).where(Assignment.shop_id == shop.id)).first()
    start = date.today() - timedelta(weeks=16)
    assignment = customize.assign(db, actor, shop, AssignmentIn(
        triad_id=triad.id, version_id=version_id, start_date=start, target_date=start + timedelta(weeks=40)))
    as_mentor, as_manager, as_sam = _actor(db, mentor), _actor(db, manager), _actor(db, sam)
    tasks = [t for t in signoffs.tasks_of(db, assignment) if not t.not_applicable and t.area_code in ("0", "V")]
    rng = random.Random(6)
    moment = utcnow() - timedelta(weeks=15)
    for i, task in enumerate(tasks):
        moment += timedelta(hours=30)
        signoffs.log_practice(db, as_sam, assignment.id, task.code, hours="1", at=moment)
        signoffs.sign_off(db, as_mentor, assignment.id, task.code, rating=rng.choice([3, 4, 4, 5]), pin=None,
                          device="shop tablet: Bay 1", at=moment + timedelta(hours=4))
        if i % 5 == 0:
            signoffs.countersign(db, as_manager, assignment.id, task.code, at=moment + timedelta(hours=20))
    redo = tasks[-1].code
    signoffs.revoke(db, as_manager, assignment.id, redo, reason="Signed before the bleeder was torqued; redo it.")
    signoffs.sign_off(db, as_mentor, assignment.id, redo, rating=3, pin=None, device="shop tablet: Bay 1")


APPRENTICE = "Aisha Khan"


def _apprenticeship(db: Session, orgs: dict) -> None:
    """Aisha's triad as a registered apprenticeship six months in: about 26 weeks of OJL hours across the work
    processes (the last week still pending, one day returned), two RTI terms from her college, and a wage
    schedule part-way: the first raise applied, the 800-hour step due, the 2,000-hour step ahead.
    Rows are built in memory and written in one flush; the hash chain is the ledger's own (hours.entry_hash)."""
    from mentoring.oversight import payplan
    from mentoring.progress.hours import entry_hash
    from mentoring.progress.models import Apprenticeship, HoursEntry, RtiRecord, WorkProcess

    shop, school = orgs["Riverside Toyota"], orgs[ORGS[2][0]]
    aisha = db.exec(select(Person).where(Person.full_name == APPRENTICE)).one()
    triad = db.exec(select(Triad).where(Triad.mentee_id == aisha.id, Triad.shop_id == shop.id)).one()
    mentor, manager = db.get(Person, triad.mentor_id), db.get(Person, triad.manager_id)
    instructor = db.exec(select(Person).where(Person.email == "karen.holt@lakeview.example")).one()
    assignment = db.exec(select(Assignment).where(Assignment.triad_id == triad.id)).first()
    today = date.today()
    start = today - timedelta(weeks=26)
    app = Apprenticeship(triad_id=triad.id, shop_id=shop.id, kind="hybrid", registration_number="2026-OH-004417",
                         occupation="Automotive Service Technician", occupation_code="49-3023.00",
                         start_date=start, term_hours=4000, probation_hours=500, status="active", status_date=start,
                         created_by_id=manager.id)
    db.add(app)
    db.flush()
    areas = program.list_areas(db, assignment)
    processes = [WorkProcess(apprenticeship_id=app.id, area_code=area.code, title=area.title[:200], target_hours=hours,
                             position=i)
                 for i, (area, hours) in enumerate(zip(areas, program.default_split(4000, [a.tasks for a in areas]),
                                                       strict=True))]
    db.add_all(processes)
    db.flush()
    busy = sorted(processes, key=lambda wp: -wp.target_hours)[:4]  # most days go to the larger work processes
    rng = random.Random(18)
    entries, previous, seq = [], "", 0
    day = start
    while day < today:
        if day.weekday() < 5:
            logged_at = utcnow().replace(microsecond=0) - timedelta(days=(today - day).days - 0.75)
            recent = (today - day).days <= 6
            for wp, minutes in ((busy[seq % 4], 300), (rng.choice(busy), 120)):
                seq += 1
                state = "pending" if recent else "approved"
                if seq == 40:
                    state = "returned"
                e = HoursEntry(apprenticeship_id=app.id, seq=seq, work_process_id=wp.id, day=day, minutes=minutes,
                               ro_number=f"RO-{rng.randint(10000, 99999)}" if minutes == 300 else "",
                               state=state, logged_by_id=aisha.id, logged_by_name=aisha.full_name,
                               logged_at=logged_at, prev_hash=previous, hash="")
                if state != "pending":
                    e.decided_by_id, e.decided_by_name = mentor.id, mentor.full_name
                    e.decided_at = logged_at + timedelta(days=rng.choice([1, 2, 3]))
                if state == "returned":
                    e.return_reason = "RO-number is for another tech's job; check it and log again."
                e.hash = previous = entry_hash(e)
                entries.append(e)
        day += timedelta(days=1)
    db.add_all(entries)
    db.add_all([RtiRecord(apprenticeship_id=app.id, term=term, course=course, hours=hours, result=result,
                          school_id=school.id, recorded_by_id=instructor.id, recorded_by_name=instructor.full_name,
                          recorded_at=utcnow() - timedelta(weeks=weeks))
                for term, course, hours, result, weeks in (
                    ("Summer 2026", "AUT 101 Automotive Fundamentals and Shop Safety", 72, "A", 16),
                    ("Fall 2026", "AUT 121 Brake Systems", 72, "B+", 1))])
    as_manager = _actor(db, manager)
    first = db.exec(select(payplan.PayStep).where(payplan.PayStep.mentee_id == aisha.id)).first()
    payplan.decide(db, as_manager, first, {"decision": "applied",
                                           "effective_on": (today - timedelta(weeks=8)).isoformat(),
                                           "note": "Applied with the next pay period."})
    payplan.add_pay_step(db, as_manager, triad, dict(title="800-hour step", amount="1.25", milestone="ojl_hours",
                                                     milestone_hours="800"))
    payplan.add_pay_step(db, as_manager, triad, dict(title="2,000-hour step", amount="1.50", milestone="ojl_hours",
                                                     milestone_hours="2000",
                                                     note="Half the term: the step in the registered standards."))
