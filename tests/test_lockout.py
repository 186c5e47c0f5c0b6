"""The one failed-attempt lockout (mentoring/access/lockout.py): a wrong guess is counted even though the
refused form's transaction is rolled back, and every way in counts on the same keys."""

import pytest

from mentoring.access import lockout, throttle
from mentoring.access.models import ThrottleEntry
from mentoring.access.throttle import Limits
from mentoring.errors import FormError
from mentoring.progress import signoffs

from .conftest import actor_for

SUBJECT = lockout.Subject("pin:999", Limits(lock_after=2), "Locked for {wait}.")


def _count(database, key: str) -> int:
    with database.session() as db:
        entry = db.get(ThrottleEntry, key)
        return entry.count if entry else 0


def test_it_counts_a_wrong_guess_that_the_caller_then_rolls_back(clean_db):
    with clean_db.session(write=True) as db:
        assert lockout.attempt(db, [SUBJECT], lambda: False) is False
        db.rollback()  # what a refused form does
    assert _count(clean_db, "pin:999") == 1


def test_it_refuses_while_locked_without_asking_or_counting(clean_db):
    asked = []
    with clean_db.session(write=True) as db:
        for _ in range(2):
            lockout.attempt(db, [SUBJECT], lambda: False)
        with pytest.raises(lockout.LoginRefused, match=r"Locked for \d+ seconds\.") as refused:
            lockout.attempt(db, [SUBJECT], lambda: asked.append(1) or True)
    assert refused.value.retry_after == 30 and asked == []
    assert _count(clean_db, "pin:999") == 2


def test_a_right_guess_clears_only_the_subjects_that_clear(clean_db):
    shared = lockout.Subject("address:203.0.113.9", Limits(lock_after=20), "", clears=False)
    with clean_db.session(write=True) as db:
        lockout.attempt(db, [SUBJECT, shared], lambda: False)
        assert lockout.attempt(db, [SUBJECT, shared], lambda: True) is True
        db.commit()
    assert _count(clean_db, "pin:999") == 0 and _count(clean_db, "address:203.0.113.9") == 1


def test_a_wrong_signing_pin_counts_though_the_sign_off_is_refused(clean_db, world, assigned):
    mentor = actor_for(clean_db, world.mentor)
    with clean_db.session(write=True) as db, pytest.raises(FormError, match="PIN is not right"):
        signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="1111")
    assert _count(clean_db, throttle.pin_key(world.mentor.id)) == 1


def test_the_signing_pin_answers_to_the_limits_it_is_given(clean_db, world, assigned):
    mentor = actor_for(clean_db, world.mentor)
    with clean_db.session(write=True) as db:
        with pytest.raises(FormError, match="PIN is not right"):
            signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="1111", pin_limits=Limits(1, 15))
        with pytest.raises(FormError, match="Too many wrong PINs"):  # even the right PIN waits now
            signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580", pin_limits=Limits(1, 15))


def test_a_wrong_pin_on_the_api_counts_on_the_same_key(browser, clean_db, world, assigned):
    from .test_api_v1 import make_token, post_event

    raw = make_token(clean_db, world.admin, world.shop, world.mentor)
    refused = post_event(browser.client, raw, assigned.id, task_code="I.A.1", kind="signoff", rating=3, pin="1111")
    assert refused.status_code == 422 and "PIN is not right" in refused.text
    assert _count(clean_db, throttle.pin_key(world.mentor.id)) == 1
