"""Bulk export: every active assignment of a shop as PDF, CSV and JSON in one zip, built in the background.

Progress is written to the database after each mentee, so whichever app process serves the progress page
sees it. The zip goes to a folder every process shares (the data folder, like uploads)."""

import logging
import os
import secrets
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, func, select

from exports import checkpoints, keys
from exports.models import ExportJob
from exports.service import export_record
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Organization
from mentoring.progress.models import Assignment
from mentoring.trail import audit

log = logging.getLogger("mentoring.exports")

# Each job issues every record of the shop and renders its PDFs: a few at once are plenty, and more would only
# take the server's time from everyone else.
MAX_RUNNING_PER_SHOP = 2
# A job unfinished this long was cut off by a restart (nothing else leaves it unfinished); it no longer counts.
ABANDONED_AFTER = timedelta(hours=2)


def running_jobs(db: Session, shop_id: int) -> int:
    return db.exec(select(func.count()).select_from(ExportJob).where(
        ExportJob.shop_id == shop_id, ExportJob.status.in_(("queued", "running")),
        ExportJob.created_at > utcnow() - ABANDONED_AFTER)).one()


def start_job(db: Session, actor: Actor, shop: Organization) -> ExportJob:
    # The shop's row lock lines up two requests that arrive together (SQLite: the write lock does it). FOR NO KEY
    # UPDATE, not FOR UPDATE: a checkpoint writer holds the audit table's lock and then inserts rows that point
    # at this shop (its key share lock), while this transaction goes on to write an audit entry; FOR UPDATE
    # would make the two wait for each other (a deadlock PostgreSQL answered with a 500).
    db.exec(select(Organization.id).where(Organization.id == shop.id).with_for_update(key_share=True)).one()
    if running_jobs(db, shop.id) >= MAX_RUNNING_PER_SHOP:
        raise FormError({"": f"{MAX_RUNNING_PER_SHOP} exports of this shop are still running. Start another when "
                             "one of them has finished; the list below shows their progress."})
    job = ExportJob(shop_id=shop.id, requested_by_id=actor.person_id,
                    file_name=f"records-{shop.id}-{secrets.token_hex(12)}.zip")
    db.add(job)
    db.flush()
    audit.record(db, actor, "export.start", job, org_id=shop.id)
    return job


def assignments_to_export(db: Session, shop_id: int) -> list[Assignment]:
    return list(db.exec(select(Assignment).where(Assignment.shop_id == shop_id, Assignment.ended_at.is_(None))
                        .order_by(Assignment.id)).all())


def run_job(transaction: Callable[[], AbstractContextManager[Session]], job_id: int, actor: Actor, folder: Path,
            base_url: str, secret: str) -> None:
    """Build the zip; each mentee's records are issued in a transaction of their own, and one checkpoint
    anchors them all at the end."""
    try:
        with transaction() as db:
            job = db.get(ExportJob, job_id)
            ids = [a.id for a in assignments_to_export(db, job.shop_id)]
            job.status, job.total = "running", len(ids)
            db.add(job)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (job.file_name + ".part")
        # Readable by this user only, like uploads: the zip holds every mentee's records.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for done, assignment_id in enumerate(ids, start=1):
                with transaction() as db:
                    assignment = db.get(Assignment, assignment_id)
                    for fmt in ("pdf", "csv", "json"):
                        exported = export_record(db, actor, assignment, fmt, base_url=base_url)
                        archive.writestr(exported.name, exported.data)
                    job = db.get(ExportJob, job_id)
                    job.done = done
                    db.add(job)
        partial.rename(folder / job.file_name)
        with transaction() as db:
            job = db.get(ExportJob, job_id)
            job.status, job.finished_at = "done", utcnow()
            db.add(job)
        try:
            with transaction() as db:
                checkpoints.write_checkpoint(db, job.shop_id, secret=secret, base_url=base_url)
        except (keys.KeyUnavailable, checkpoints.BadSignature) as exc:
            log.warning("no checkpoint after bulk export %s: %s", job_id, exc)
    except Exception as exc:  # a background job has nobody to raise to: record the failure for the page
        log.exception("bulk export %s failed", job_id)
        with transaction() as db:
            job = db.get(ExportJob, job_id)
            job.status, job.finished_at, job.error = "failed", utcnow(), str(exc)[:300]
            db.add(job)


def jobs_of(db: Session, shop_id: int, limit: int = 10) -> list[ExportJob]:
    return list(db.exec(select(ExportJob).where(ExportJob.shop_id == shop_id)
                        .order_by(ExportJob.id.desc()).limit(limit)).all())
