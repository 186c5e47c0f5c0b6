"""Managers' and instructors' pages: the dashboard, a mentee's detail, reviews, pay plans and tools, inbox."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from mentoring.access import policy, tablets
from mentoring.access.policy import Actor
from mentoring.oversight import dashboard, flags, inbox, instructor, payplan, reviews, setup, wages
from mentoring.people import roster
from mentoring.people.models import Organization
from mentoring.progress import apprenticeship, board, hours, offline_sync, timeline
from web.render import FormData, checkbox, page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


# --- the manager's dashboard -------------------------------------------------------------------

def dashboard_page(db: Session, actor: Actor, *, sort: str = "name", flag: str = "", mentor: str = "",
                   q: str = "", errors: dict | None = None, status_code: int = 200) -> Response:
    policy.require_role(actor, "manager")
    shops = actor.orgs_where("manager")
    d = dashboard.build(db, actor, shops)
    rows = dashboard.sort_and_filter(d.rows, sort=sort, flag=flag, mentor=mentor, q=q)
    mentors = sorted({(r.row.mentor.id, r.row.mentor.full_name) for r in d.rows}, key=lambda m: m[1])
    apprentices = any(r.row.triad.apprenticeship_id for r in d.rows)  # no query for shops without apprenticeships
    return page("homes/manager.html", status_code=status_code, d=d, rows=rows, mentors=mentors,
                filters={"sort": sort, "flag": flag, "mentor": mentor, "q": q}, errors=errors or {},
                area_totals=dashboard.area_totals(rows), enrollments=roster.enrollments_at_shops(db, shops),
                recent=board.recent_signoffs(db, shops, limit=8), tablets_to_check=tablets.needing_attention(db, shops),
                offline_conflicts=offline_sync.open_counts(db, shops),
                hours_lines=hours.board(db, shop_ids=shops) if apprentices else [], **_setups(db, actor, d.shops))


def _setups(db: Session, actor: Actor, shops: list[Organization]) -> dict:
    """The setup checklist of each shop that has not taken every first step yet, and which shops have the
    people a triad needs (so "Start a triad" is offered only there)."""
    checklists = [(shop, setup.checklist(db, shop), policy.can_administer(actor, shop.id)) for shop in shops]
    return {"setup": [c for c in checklists if not setup.is_complete(c[1])],
            "can_pair": {shop.id: next(s.ready for s in steps if s.key == "triad") for shop, steps, _ in checklists}}


@post("/shops/{shop_id:int}/dashboard-settings", sync_to_thread=True)
def dashboard_settings(db: Db, actor: Me, shop_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    return submit(db, lambda: dashboard.set_stalled_days(db, actor, shop, data.get("stalled_days")),
                  done="/manager", failed=lambda e: dashboard_page(db, actor, errors=e.errors, status_code=400))


# --- a mentee, as managers (and everyone else who may follow them) see it ---------------------------

def mentee_page(db: Session, actor: Actor, mentee_id: int, *, errors: dict | None = None, form: dict | None = None,
                status_code: int = 200) -> Response:
    mentee = policy.get_mentee_for_viewer(db, actor, mentee_id)
    shops = policy.mentee_shops_visible_to(db, actor, mentee_id)  # None: the mentee, who sees all of it
    triad = roster.triad_of(db, mentee_id)
    if triad is not None and shops is not None and triad.shop.id not in shops:
        triad = None
    enrollments = [e for e in roster.enrollments_of(db, mentee_id) if policy.can_see_enrollment(actor, e.enrollment)]
    assignments = [a for a in board.assignments_of(db, mentee_id) if shops is None or a.shop_id in shops]
    review_views = reviews.reviews_of_mentee(db, actor, mentee_id)
    reviews_kept = reviews.reviews_kept_from(db, actor, mentee_id, shops)
    tz = triad.shop.timezone if triad else "UTC"
    today = flags.today_in(tz)
    plan = schedule = apprentice = None
    if triad is not None and (app := apprenticeship.apprenticeship_of(db, triad.triad.id)) is not None:
        apprentice = (app, apprenticeship.hours_summary(db, app))
    if triad is not None:
        progress = dashboard.progress_of(db, [a for a in assignments if a.triad_id == triad.triad.id])
        report = next((p.report for p in progress.values()), None)
        plan = payplan.pay_plan_of(db, actor, triad.shop.id, mentee_id, report, today)
        schedule = wages.schedule_of(db, actor, triad.triad, report, today)
    else:
        progress = dashboard.progress_of(db, assignments)
    return page("homes/mentee_detail.html", status_code=status_code, mentee=mentee, triad=triad,
                enrollments=enrollments, assignments=assignments, progress=progress, reviews=review_views,
                reviews_kept=reviews_kept,
                today=today, tz=tz, hours=timeline.hours_by_area(db, mentee_id, shops),
                moments=timeline.timeline(db, mentee_id, review_ids=[v.review.id for v in review_views],
                                          shops=shops),
                plan=plan, wage_schedule=schedule, apprentice=apprentice,
                can_manage=bool(triad and policy.can_manage_shop(actor, triad.shop.id)),
                milestones=payplan.MILESTONES, tool_kinds=payplan.TOOL_KINDS, errors=errors or {}, form=form or {})


def _mentee_action(db: Session, actor: Actor, mentee_id: int, data: dict, action, anchor: str) -> Response:
    """A form on the mentee's page: back to its section, or the page again with the messages."""
    form = {k: v for k, v in data.items() if k != "_csrf_token"}
    return submit(db, action, done=f"/mentees/{mentee_id}#{anchor}",
                  failed=lambda e: mentee_page(db, actor, mentee_id, errors=e.errors, form=form, status_code=400))


@post("/mentees/{mentee_id:int}/pay-steps", sync_to_thread=True)
def pay_step_add(db: Db, actor: Me, mentee_id: FromPath[int], data: FormData) -> Response:
    triad = policy.get_active_triad_for_pay_plan(db, actor, mentee_id)
    return _mentee_action(db, actor, mentee_id, data, lambda: payplan.add_pay_step(
        db, actor, triad, {**data, "shared": checkbox(data, "shared")}), "pay")


@post("/pay-steps/{step_id:int}/decision", sync_to_thread=True)
def pay_step_decide(db: Db, actor: Me, step_id: FromPath[int], data: FormData) -> Response:
    step = payplan.get_pay_step_for_manager(db, actor, step_id)
    return _mentee_action(db, actor, step.mentee_id, data, lambda: payplan.decide(db, actor, step, data), "pay")


@post("/pay-steps/{step_id:int}/share", sync_to_thread=True)
def pay_step_share(db: Db, actor: Me, step_id: FromPath[int], data: FormData) -> Response:
    step = payplan.get_pay_step_for_manager(db, actor, step_id)
    return _mentee_action(db, actor, step.mentee_id, data,
                          lambda: payplan.set_shared(db, actor, step, checkbox(data, "shared")), "pay")


@post("/mentees/{mentee_id:int}/tools", sync_to_thread=True)
def tool_add(db: Db, actor: Me, mentee_id: FromPath[int], data: FormData) -> Response:
    triad = policy.get_active_triad_for_pay_plan(db, actor, mentee_id)
    return _mentee_action(db, actor, mentee_id, data, lambda: payplan.add_tool_record(
        db, actor, triad, {**data, "shared": checkbox(data, "shared")}), "tools")


@post("/tools/{record_id:int}/returned", sync_to_thread=True)
def tool_returned(db: Db, actor: Me, record_id: FromPath[int], data: FormData) -> Response:
    record = payplan.get_tool_record_for_manager(db, actor, record_id)
    tz = db.get(Organization, record.shop_id).timezone
    return _mentee_action(db, actor, record.mentee_id, data,
                          lambda: payplan.mark_returned(db, actor, record, flags.today_in(tz)), "tools")


@post("/tools/{record_id:int}/share", sync_to_thread=True)
def tool_share(db: Db, actor: Me, record_id: FromPath[int], data: FormData) -> Response:
    record = payplan.get_tool_record_for_manager(db, actor, record_id)
    return _mentee_action(db, actor, record.mentee_id, data,
                          lambda: payplan.set_shared(db, actor, record, checkbox(data, "shared")), "tools")


# --- reviews ---------------------------------------------------------------------------------------

@post("/triads/{triad_id:int}/reviews/standard", sync_to_thread=True)
def reviews_standard(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    triad = policy.get_triad_for_manager(db, actor, triad_id)
    return _mentee_action(db, actor, triad.mentee_id, data,
                          lambda: reviews.schedule_standard(db, actor, triad), "reviews")


@post("/triads/{triad_id:int}/reviews", sync_to_thread=True)
def review_add(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    triad = policy.get_triad_for_manager(db, actor, triad_id)
    return _mentee_action(db, actor, triad.mentee_id, data,
                          lambda: reviews.add_custom(db, actor, triad, data), "reviews")


def _review_page(db: Session, actor: Actor, review_id: int, *, errors=None, form=None, status_code=200) -> Response:
    review, triad = reviews.get_review(db, actor, review_id)
    view = reviews.reviews_where(db, reviews.Review.id == review.id)[0]
    shop = db.get(Organization, triad.shop_id)
    return page("manage/review.html", status_code=status_code, view=view, triad=roster.triad_row(db, triad.id),
                party=reviews.party_of(actor, triad), today=flags.today_in(shop.timezone), tz=shop.timezone,
                parties=reviews.PARTIES, errors=errors or {}, form=form or {})


@get("/reviews/{review_id:int}", sync_to_thread=True)
def review_page(db: Db, actor: Me, review_id: FromPath[int]) -> Response:
    return _review_page(db, actor, review_id)


@post("/reviews/{review_id:int}/sign", sync_to_thread=True)
def review_sign(db: Db, actor: Me, review_id: FromPath[int], data: FormData) -> Response:
    review, triad = reviews.get_review(db, actor, review_id)
    return submit(db, lambda: reviews.sign(db, actor, review, triad, str(data.get("note", ""))),
                  done=f"/reviews/{review_id}", failed=lambda e: _review_page(
                      db, actor, review_id, errors=e.errors, form={"note": data.get("note", "")}, status_code=400))


# --- instructors -------------------------------------------------------------------------------------

def instructor_page(db: Session, actor: Actor) -> Response:
    policy.require_role(actor, "instructor")
    return page("homes/instructor.html", students=instructor.students(db, actor))


@get("/instructor/program", sync_to_thread=True)
def program_page(db: Db, actor: Me) -> Response:
    policy.require_role(actor, "instructor")
    found = instructor.students(db, actor)
    return page("manage/program.html", students=found, areas=instructor.program_coverage(found))


# --- the inbox ---------------------------------------------------------------------------------------

@get("/inbox", sync_to_thread=True)
def inbox_page(db: Db, actor: Me) -> Response:
    return page("manage/inbox.html", items=inbox.items_for(db, actor))


def shared_pay_plan(db: Session, actor: Actor, mentee_id: int):
    """For the mentee's own page: what the manager shared with them."""
    triad = roster.triad_of(db, mentee_id)
    if triad is None:
        return None
    progress = dashboard.progress_of(db, [a for a in board.assignments_of(db, mentee_id)
                                          if a.triad_id == triad.triad.id])
    report = next((p.report for p in progress.values()), None)
    plan = payplan.pay_plan_of(db, actor, triad.shop.id, mentee_id, report, flags.today_in(triad.shop.timezone))
    return plan if plan and (plan.steps or plan.tools) else None


HANDLERS = [dashboard_settings, pay_step_add, pay_step_decide, pay_step_share, tool_add, tool_returned, tool_share,
            reviews_standard, review_add, review_page, review_sign, program_page, inbox_page]
