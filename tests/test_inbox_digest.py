"""The inbox shows each person what waits for them; digests go out over SMTP only when it is configured."""

import threading
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from mentoring.oversight import digest, payplan, reviews
from mentoring.people.models import Triad
from mentoring.progress import signoffs
from web import cli

from .browser import _free_port
from .conftest import actor_for


class Mailbox:
    def __init__(self):
        self.messages: list[tuple[str, list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


@contextmanager
def serving_mailbox():
    """A real SMTP server on a free port that keeps what it receives; yields the mailbox and its URL."""
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}?from=mentoring@shop.example"
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    with serving_mailbox() as served:
        yield served


@pytest.fixture
def waiting(db, world, assigned, clean_db):
    """A task ready for the mentor, an overdue review for all three, and a pay step due for the manager."""
    mentee, manager = actor_for(clean_db, world.mentee), actor_for(clean_db, world.manager)
    signoffs.request_signoff(db, mentee, assigned.id, "I.A.1")
    triad = db.get(Triad, world.triad.id)
    review = reviews.add_custom(db, manager, triad, {"title": "Brakes check-in", "due_on": "2026-01-10"})
    payplan.add_pay_step(db, manager, triad, {"title": "Secret raise title", "amount": "1", "milestone": "date",
                                              "milestone_date": "2026-01-01", "note": "confidential words"})
    db.commit()
    return review


def test_each_person_sees_what_waits_for_them(browser, world, waiting):
    browser.login(world.mentor.email)
    page = browser.get("/inbox").text
    assert "Tess Mentee: 1 task ready for sign-off" in page and "Brakes check-in" in page
    assert "pay step" not in page.lower()
    browser.logout()
    browser.login(world.manager.email)
    page = browser.get("/inbox").text
    assert "Secret raise title" in page and "Brakes check-in, overdue since 2026-01-10" in page
    browser.logout()
    browser.login(world.mentee.email)
    page = browser.get("/inbox").text
    assert "your signature as mentee" in page and "Secret raise title" not in page
    browser.logout()
    browser.login(world.other_manager.email)
    assert "Tess Mentee" not in browser.get("/inbox").text


def test_a_signed_review_leaves_the_signers_inbox(browser, world, waiting, db, clean_db):
    reviews.sign(db, actor_for(clean_db, world.mentor), waiting, db.get(Triad, world.triad.id), "")
    db.commit()
    browser.login(world.mentor.email)
    assert "Brakes check-in" not in browser.get("/inbox").text


def test_digests_go_out_over_smtp_without_confidential_text(smtp_server, clean_db, waiting, world, monkeypatch):
    mailbox, url = smtp_server
    monkeypatch.setenv("MENTORING_SMTP_URL", url)
    monkeypatch.setenv("MENTORING_DATABASE_URL", clean_db.url)
    result = CliRunner().invoke(cli.main, ["inbox", "digest"])
    assert result.exit_code == 0, result.output
    assert "Sent 4 digests" in result.output
    by_recipient = {rcpt[0]: body for _, rcpt, body in mailbox.messages}
    # The shop's admin decides pay too, so the pay step reaches them; the review only its triad.
    assert set(by_recipient) == {world.mentor.email, world.manager.email, world.mentee.email, world.admin.email}
    assert "Brakes check-in" not in by_recipient[world.admin.email]
    assert all(sender == "mentoring@shop.example" for sender, _, _ in mailbox.messages)
    manager_mail = by_recipient[world.manager.email]
    assert "Tess Mentee: a pay step is due" in manager_mail and "/inbox" in manager_mail
    for body in by_recipient.values():
        assert "Secret raise title" not in body and "confidential words" not in body


def test_without_an_smtp_url_nothing_is_sent_and_nothing_fails(smtp_server, clean_db, waiting, monkeypatch):
    mailbox, _url = smtp_server
    monkeypatch.delenv("MENTORING_SMTP_URL", raising=False)
    monkeypatch.setenv("MENTORING_DATABASE_URL", clean_db.url)
    result = CliRunner().invoke(cli.main, ["inbox", "digest"])
    assert result.exit_code == 0, result.output
    assert "MENTORING_SMTP_URL is not set" in result.output
    with clean_db.session() as db:
        assert digest.send_all(db, "", "http://x") == 0
    assert mailbox.messages == []


def test_nothing_waiting_sends_nothing(smtp_server, db, world):
    mailbox, url = smtp_server
    assert digest.send_all(db, url, "http://x") == 0
    assert mailbox.messages == []
