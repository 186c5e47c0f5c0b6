"""Pay steps and tool records: confidential notes a manager keeps about a mentee.

Every read goes through policy.pay_plan_access. Audit entries name the object and the fields that changed,
never their text, so the notes cannot leak through the audit log or the application log."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, field_validator, model_validator
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound, parse_input
from mentoring.oversight import flags, wages
from mentoring.oversight.models import PayStep, PayStepDecision, ToolRecord
from mentoring.people.models import Person, Triad
from mentoring.trail import audit
from tasklists.coverage import CoverageReport

MILESTONES = {"area_p1": "All P-1 tasks of an area signed", "coverage": "Coverage of the list at least N %",
              "date": "A date", "ojl_hours": "Approved on-the-job hours reached (apprenticeship)",
              "credential": "A credential issued (any, or for an area)"}
TOOL_KINDS = {"allowance": "Tool allowance", "issue": "Tool issued", "loan": "Tool on loan"}


def _money(value) -> int | None:
    text = str(value or "").strip().replace("$", "").replace(",", "")
    if not text:
        return None
    try:
        cents = int((Decimal(text) * 100).to_integral_value())
    except InvalidOperation:
        raise ValueError("Enter an amount such as 1.50.") from None
    if not 0 < cents <= 10_000_000:
        raise ValueError("Enter an amount above zero.")
    return cents


def _short(value, what: str, limit: int, required: bool = True) -> str:
    value = " ".join(str(value or "").split())
    if required and not value:
        raise ValueError(f"{what} is required.")
    if len(value) > limit:
        raise ValueError(f"Keep {what.lower()} under {limit} characters.")
    return value


def _note(value) -> str:
    value = str(value or "").strip()
    if len(value) > 2000:
        raise ValueError("Keep the note under 2000 characters.")
    return value


def _blank_none(value):
    return None if value in ("", None) else value


class PayStepIn(BaseModel):
    title: str
    amount: str = ""  # dollars per hour
    percent: str = ""
    effective_on: date | None = None
    milestone: Literal["area_p1", "coverage", "date", "ojl_hours", "credential"]
    milestone_area: str = ""
    milestone_percent: int | None = None
    milestone_hours: int | None = None
    milestone_date: date | None = None
    note: str = ""
    shared: bool = False

    blank_to_none = field_validator("effective_on", "milestone_percent", "milestone_date", "milestone_hours",
                                    mode="before")(
        classmethod(lambda cls, v: _blank_none(v)))

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v):
        return _short(v, "Title", 120)

    @field_validator("note", mode="before")
    @classmethod
    def _the_note(cls, v):
        return _note(v)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v):
        _money(v)
        return str(v or "").strip()

    @field_validator("percent", mode="before")
    @classmethod
    def _percent(cls, v):
        text = str(v or "").strip().rstrip("%").strip()
        if text:
            try:
                tenths = int((Decimal(text) * 10).to_integral_value())
            except InvalidOperation:
                raise ValueError("Enter a percentage such as 2.5.") from None
            if not 0 < tenths <= 1000:
                raise ValueError("Enter a percentage between 0.1 and 100.")
        return text

    @model_validator(mode="after")
    def _complete(self):
        errors = {}
        if bool(self.amount) == bool(self.percent):
            errors["amount"] = "Give either an amount per hour or a percentage."
        if self.milestone == "area_p1" and not self.milestone_area.strip():
            errors["milestone_area"] = "Name the area, for example V."
        if self.milestone == "coverage" and not (self.milestone_percent and 1 <= self.milestone_percent <= 100):
            errors["milestone_percent"] = "Enter a coverage between 1 and 100 %."
        if self.milestone == "ojl_hours" and not (self.milestone_hours and 1 <= self.milestone_hours <= 20000):
            errors["milestone_hours"] = "Enter the approved OJL hours, for example 1000."
        if self.milestone == "date" and self.milestone_date is None:
            errors["milestone_date"] = "Pick the date."
        if errors:
            raise FormError(errors)
        return self


class DecisionIn(BaseModel):
    decision: Literal["applied", "deferred"]
    effective_on: date | None = None
    deferred_until: date | None = None
    note: str = ""

    blank_to_none = field_validator("effective_on", "deferred_until", mode="before")(
        classmethod(lambda cls, v: _blank_none(v)))

    @field_validator("note", mode="before")
    @classmethod
    def _the_note(cls, v):
        return _note(v)


class ToolIn(BaseModel):
    kind: Literal["allowance", "issue", "loan"]
    description: str
    amount: str = ""
    on_date: date
    due_back_on: date | None = None
    note: str = ""
    shared: bool = False

    blank_to_none = field_validator("due_back_on", mode="before")(classmethod(lambda cls, v: _blank_none(v)))

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, v):
        return _short(v, "Description", 200)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v):
        _money(v)
        return str(v or "").strip()

    @field_validator("note", mode="before")
    @classmethod
    def _the_note(cls, v):
        return _note(v)


def _parse(model, data: dict):
    try:
        return parse_input(model, data)
    except FormError:
        raise
    except ValueError as exc:  # raised by a model validator
        raise FormError({"": str(exc)}) from None


# --- writing ---------------------------------------------------------------------------------

def add_pay_step(db: Session, actor: Actor, triad: Triad, data: dict) -> PayStep:
    if not policy.can_see_pay_plan(actor, triad.shop_id):
        raise NotFound
    form = _parse(PayStepIn, data)
    percent = int((Decimal(form.percent) * 10).to_integral_value()) if form.percent else None
    step = PayStep(shop_id=triad.shop_id, mentee_id=triad.mentee_id, title=form.title,
                   amount_cents=_money(form.amount), percent_tenths=percent, effective_on=form.effective_on,
                   milestone=form.milestone, milestone_area=form.milestone_area.strip().upper(),
                   milestone_percent=form.milestone_percent, milestone_date=form.milestone_date,
                   milestone_hours=form.milestone_hours if form.milestone == "ojl_hours" else None,
                   note=form.note, shared=form.shared, created_by_id=actor.person_id)
    db.add(step)
    db.flush()
    audit.record(db, actor, "paystep.create", step, org_id=step.shop_id, mentee_id=step.mentee_id)
    return step


def decide(db: Session, actor: Actor, step: PayStep, data: dict, *, today: date | None = None) -> PayStepDecision:
    """Record a step as applied or deferred; earlier decisions stay as history."""
    form = _parse(DecisionIn, data)
    if latest_decision(db, step.id) and latest_decision(db, step.id).decision == "applied":
        raise FormError({"": "This pay step is already applied."})
    today = today or flags.today_in(_shop_tz(db, step.shop_id))
    if form.decision == "deferred" and form.deferred_until is not None and form.deferred_until <= today:
        raise FormError({"deferred_until": "Pick a day after today, or leave it empty to defer until further notice."})
    decision = PayStepDecision(pay_step_id=step.id, decision=form.decision, note=form.note,
                               effective_on=(form.effective_on or step.effective_on or today)
                               if form.decision == "applied" else None,
                               deferred_until=form.deferred_until if form.decision == "deferred" else None,
                               decided_by_id=actor.person_id, decided_by_name=actor.name)
    db.add(decision)
    db.flush()
    audit.record(db, actor, f"paystep.{form.decision}", step, org_id=step.shop_id, decision_id=decision.id)
    return decision


def set_shared(db: Session, actor: Actor, item: PayStep | ToolRecord, shared: bool) -> None:
    item.shared = shared
    db.add(item)
    audit.record(db, actor, f"{type(item).__name__.lower()}.share", item, org_id=item.shop_id, shared=shared)


def add_tool_record(db: Session, actor: Actor, triad: Triad, data: dict) -> ToolRecord:
    if not policy.can_see_pay_plan(actor, triad.shop_id):
        raise NotFound
    form = _parse(ToolIn, data)
    if form.kind == "loan" and form.due_back_on and form.due_back_on < form.on_date:
        raise FormError({"due_back_on": "A loan comes back after it goes out."})
    record = ToolRecord(shop_id=triad.shop_id, mentee_id=triad.mentee_id, kind=form.kind,
                        description=form.description, amount_cents=_money(form.amount), on_date=form.on_date,
                        due_back_on=form.due_back_on if form.kind == "loan" else None, note=form.note,
                        shared=form.shared, created_by_id=actor.person_id)
    db.add(record)
    db.flush()
    audit.record(db, actor, "toolrecord.create", record, org_id=record.shop_id, mentee_id=record.mentee_id)
    return record


def mark_returned(db: Session, actor: Actor, record: ToolRecord, on: date) -> None:
    if record.kind != "loan" or record.returned_on:
        raise FormError({"": "Only a tool on loan can be marked returned, once."})
    record.returned_on = on
    db.add(record)
    audit.record(db, actor, "toolrecord.returned", record, org_id=record.shop_id)


# --- reading -------------------------------------------------------------------------------------

def get_pay_step_for_manager(db: Session, actor: Actor, step_id: int) -> PayStep:
    step = db.get(PayStep, step_id)
    if step is None or policy.pay_plan_access(actor, step.shop_id, step.mentee_id) != "all":
        raise NotFound
    return step


def get_tool_record_for_manager(db: Session, actor: Actor, record_id: int) -> ToolRecord:
    record = db.get(ToolRecord, record_id)
    if record is None or policy.pay_plan_access(actor, record.shop_id, record.mentee_id) != "all":
        raise NotFound
    return record


def latest_decision(db: Session, step_id: int) -> PayStepDecision | None:
    return db.exec(select(PayStepDecision).where(PayStepDecision.pay_step_id == step_id)
                   .order_by(PayStepDecision.id.desc()).limit(1)).first()


@dataclass
class StepView:
    step: PayStep
    decisions: list[PayStepDecision]
    status: str  # applied | planned | deferred | due

    @property
    def raise_text(self) -> str:
        return describe_raise(self.step)

    @property
    def milestone_text(self) -> str:
        return describe_milestone(self.step)


def describe_raise(step: PayStep) -> str:
    if step.amount_cents is not None:
        return f"+${step.amount_cents / 100:,.2f}/h"
    return f"+{step.percent_tenths / 10:g} %"


def describe_milestone(step: PayStep) -> str:
    if step.milestone == "area_p1":
        return f"Area {step.milestone_area} P-1 complete"
    if step.milestone == "coverage":
        return f"Coverage ≥ {step.milestone_percent} %"
    if step.milestone == "ojl_hours":
        return f"{step.milestone_hours:,} approved OJL hours"
    if step.milestone == "credential":
        return f"Credential for area {step.milestone_area} issued" if step.milestone_area else "A credential issued"
    return f"On {step.milestone_date:%Y-%m-%d}"


def step_views(steps: list[PayStep], decisions: list[PayStepDecision], reports: dict[int, CoverageReport | None],
               today: date, facts: "dict[int, wages.Facts] | None" = None) -> list[StepView]:
    """Steps with their history and status; `reports` maps mentee id to their coverage (None: no list), `facts` to
    their approved OJL hours and credentials (wages.facts_of; None: those triggers count as not reached)."""
    history: dict[int, list[PayStepDecision]] = {}
    for d in sorted(decisions, key=lambda d: d.id):
        history.setdefault(d.pay_step_id, []).append(d)
    views = []
    for step in steps:
        past = history.get(step.id, [])
        last = past[-1] if past else None
        fact = (facts or {}).get(step.mentee_id)
        reached = flags.milestone_reached(step.milestone, area=step.milestone_area, percent=step.milestone_percent,
                                          on=step.milestone_date, report=reports.get(step.mentee_id), today=today,
                                          hours=getattr(step, "milestone_hours", None),
                                          ojl_minutes=fact.ojl_minutes if fact else None,
                                          credentials=fact.credentials if fact else None)
        status = flags.pay_step_status(reached, last.decision if last else None,
                                       last.deferred_until if last else None, today)
        views.append(StepView(step, past, status))
    return views


@dataclass
class PayPlan:
    access: str  # all | shared
    steps: list[StepView]
    tools: list[ToolRecord]


def pay_plan_of(db: Session, actor: Actor, shop_id: int, mentee_id: int, report: CoverageReport | None,
                today: date) -> PayPlan | None:
    """What of a mentee's pay plan the actor may read; None when nothing at all."""
    access = policy.pay_plan_access(actor, shop_id, mentee_id)
    if access is None:
        return None
    steps_q = select(PayStep).where(PayStep.shop_id == shop_id, PayStep.mentee_id == mentee_id)
    tools_q = select(ToolRecord).where(ToolRecord.shop_id == shop_id, ToolRecord.mentee_id == mentee_id)
    if access == "shared":
        steps_q = steps_q.where(PayStep.shared.is_(True))
        tools_q = tools_q.where(ToolRecord.shared.is_(True))
    steps = list(db.exec(steps_q.order_by(PayStep.id)).all())
    decisions = list(db.exec(select(PayStepDecision).where(
        PayStepDecision.pay_step_id.in_([s.id for s in steps]))).all()) if steps else []
    tools = list(db.exec(tools_q.order_by(ToolRecord.on_date, ToolRecord.id)).all())
    facts = wages.facts_of(db, shop_id, [mentee_id]) if any(s.milestone in wages.KINDS for s in steps) else None
    return PayPlan(access, step_views(steps, decisions, {mentee_id: report}, today, facts), tools)


def _shop_tz(db: Session, shop_id: int) -> str:
    from mentoring.people.models import Organization
    return db.get(Organization, shop_id).timezone


def mentee_name(db: Session, mentee_id: int) -> str:
    return db.get(Person, mentee_id).full_name
