"""Tamper evidence that survives a careful attacker: signed checkpoints of every chain head and of the audit log.

The attacker here writes to the database directly and knows how hashes are computed, but does not hold
MENTORING_SECRET_KEY, so cannot sign with an organization's key."""

import json
import threading
import time

import pytest
from click.testing import CliRunner
from joserfc import jws
from joserfc.jwk import ECKey
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from sqlalchemy import text
from sqlmodel import select

from exports import checkpoints, credentials, keys
from exports.models import AuditCheckpoint, IssuerKey
from mentoring.progress import signoffs
from mentoring.progress.models import ProgressEvent
from mentoring.trail import audit
from mentoring.trail import checkpoints as statements
from mentoring.trail.models import AuditEntry
from web.cli import main

from .conftest import actor_for

SECRET = "test-secret-" + "x" * 40  # the app fixture's secret
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_SECRET_KEY", SECRET)
    monkeypatch.setenv("MENTORING_BASE_URL", BASE)

    def run(*args, code=0):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


def history(database, world, assigned):
    """Practice, a sign-off and a comment on Tess Mentee's chain: events #1 to #3."""
    mentee, mentor = actor_for(database, world.mentee), actor_for(database, world.mentor)
    with database.transaction() as db:
        signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours=2)
    with database.transaction() as db:
        signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580")
    with database.transaction() as db:
        signoffs.comment(db, mentee, assigned.id, "I.A.1", note="Thanks!")


def tamper(database, sql, **params):
    with database.engine.begin() as conn:  # someone edits the database behind the app's back
        conn.execute(text(sql), params)


def rewrite_chain(database, assignment_id, seq, **changes):
    """Change one event and recompute its hash and every later one, as an attacker who read the code would."""
    with database.session() as db:
        events = db.exec(select(ProgressEvent).where(ProgressEvent.assignment_id == assignment_id)
                         .order_by(ProgressEvent.seq)).all()
        previous = ""
        for e in events:
            if e.seq == seq:
                for name, value in changes.items():
                    setattr(e, name, value)
            e.prev_hash = previous
            e.hash = signoffs.event_hash(e)
            previous = e.hash
            db.add(e)
        db.commit()
    with database.session() as db:
        assert signoffs.verify_chains(db) == []  # the chain alone no longer shows anything


def shop_entry_ids(database, org_id):
    with database.session() as db:
        return db.exec(select(AuditEntry.id).where(AuditEntry.organization_id == org_id)
                       .order_by(AuditEntry.id)).all()


def test_untouched_history_verifies_clean_and_against_a_saved_copy(cli, clean_db, world, assigned, browser,
                                                                   tmp_path):
    history(clean_db, world, assigned)
    written = cli("audit", "checkpoint")
    assert "Checkpoint #1 of Riverside Toyota" in written and "Checkpoint #1 of Hillcrest Auto" in written
    assert cli("audit", "checkpoint") == "Nothing changed since the last checkpoints.\n"
    with clean_db.transaction() as db:  # written after the checkpoint: covered by the next one
        signoffs.comment(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.1", note="Well done")
    assert "Checkpoint #2 of Riverside Toyota" in cli("audit", "checkpoint")
    saved = tmp_path / "saved.json"
    saved.write_text(browser.get(f"/orgs/{world.shop.id}/checkpoints.json").text)
    ok = cli("audit", "verify", "--checkpoints", str(saved))
    assert "OK: 4 events, every chain intact; 4 checkpoints signed and matching" in ok
    assert "Riverside Toyota #2" in ok and "the saved copy (2) agrees" in ok


def test_deleting_the_last_event_of_a_chain_is_detected(cli, clean_db, world, assigned):
    history(clean_db, world, assigned)
    cli("audit", "checkpoint")
    tamper(clean_db, "DELETE FROM progressevent WHERE assignment_id = :a AND seq = 3", a=assigned.id)
    out = cli("audit", "verify", code=1)
    assert (f"CHANGED: assignment {assigned.id} (Tess Mentee at Riverside Toyota): checkpoint #1 of Riverside "
            "Toyota") in out
    assert "recorded 3 events, 2 remain: event #3 was deleted" in out
    assert "BROKEN" not in out  # the chain itself still links up: only the checkpoint shows it


def test_a_chain_rewritten_with_recomputed_hashes_is_detected(cli, clean_db, world, assigned):
    mentee = actor_for(clean_db, world.mentee)
    with clean_db.transaction() as db:
        signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours=2)
    cli("audit", "checkpoint")  # #1: one event
    with clean_db.transaction() as db:
        signoffs.sign_off(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.1", rating=2, pin="2580")
    with clean_db.transaction() as db:
        signoffs.comment(db, mentee, assigned.id, "I.A.1", note="Thanks!")
    cli("audit", "checkpoint")  # #2: three events
    rewrite_chain(clean_db, assigned.id, 2, rating=5)
    out = cli("audit", "verify", code=1)
    assert f"CHANGED: assignment {assigned.id} (Tess Mentee at Riverside Toyota)" in out
    assert "one of events #2 to #3 was changed or replaced and the chain's hashes recomputed" in out


@pytest.mark.parametrize("case", ["shop entry changed", "shop entry deleted", "entry of no organization changed"])
def test_a_changed_or_deleted_audit_entry_is_detected(cli, clean_db, world, assigned, case):
    history(clean_db, world, assigned)
    # An account made on the command line belongs to no organization, so its entry has none either.
    cli("users", "create", "--email", "pat.operator@example.com", "--name", "Pat Operator",
        "--password", "a-long-operator-password")
    cli("audit", "checkpoint")
    victim = shop_entry_ids(clean_db, world.shop.id)[-2]
    if case == "shop entry changed":
        tamper(clean_db, "UPDATE auditentry SET ip = '10.9.9.9' WHERE id = :id", id=victim)
    elif case == "shop entry deleted":
        tamper(clean_db, "DELETE FROM auditentry WHERE id = :id", id=victim)
    else:
        tamper(clean_db, "UPDATE auditentry SET action = 'session.login' WHERE id = "
                         "(SELECT MIN(id) FROM auditentry WHERE organization_id IS NULL)")
    out = cli("audit", "verify", code=1)
    if case == "shop entry changed":
        assert "CHANGED: audit log (Riverside Toyota)" in out and "their content changed" in out
    elif case == "shop entry deleted":
        assert "CHANGED: audit log (Riverside Toyota)" in out and "1 of them deleted" in out
    else:
        assert "CHANGED: audit log (entries of no organization: sign-ins, accounts): entries up to id" in out
        assert "one of them was changed or deleted" in out and "audit log (Riverside Toyota)" not in out


def _forge(database, world, key: ECKey, kid: str):
    """The attacker's own statement of the tampered history, signed with a key they made."""
    with database.session() as db:
        row = checkpoints.newest(db, world.shop.id)
        content = statements.statement(db, world.shop.id, number=1, at="2026-12-01T00:00:00Z",
                                       through_id=statements.newest_entry_id(db), previous=None)
    token = jws.serialize_compact({"alg": "ES256", "typ": "JOSE", "kid": kid},
                                  json.dumps(content, sort_keys=True, separators=(",", ":")).encode(), key)
    tamper(database, "UPDATE auditcheckpoint SET token = :t WHERE id = :id", t=token, id=row.id)


def test_a_checkpoint_forged_without_the_key_is_detected(cli, clean_db, world, assigned, browser, tmp_path):
    history(clean_db, world, assigned)
    cli("audit", "checkpoint")
    saved = tmp_path / "saved.json"
    saved.write_text(browser.get(f"/orgs/{world.shop.id}/checkpoints.json").text)
    tamper(clean_db, "DELETE FROM progressevent WHERE assignment_id = :a AND seq = 3", a=assigned.id)
    with clean_db.session() as db:
        stored = keys.stored_key(db, world.shop.id)
    attacker = ECKey.generate_key("P-256")
    _forge(clean_db, world, attacker, f"did:web:127.0.0.1%3A8000:orgs:{world.shop.id}#{stored.kid}")
    out = cli("audit", "verify", code=1)
    assert "CHECKPOINT: checkpoint #1 of Riverside Toyota is not genuine: its signature does not verify" in out
    # Nor does the next checkpoint take the forged one's word for the history before it.
    refused = cli("audit", "checkpoint", code=1)
    assert f"No checkpoint: the newest checkpoint (#1) of organization {world.shop.id} is not genuine" in refused

    # Careful: the attacker also puts their own public key in the database. Only the saved copy shows it.
    public = attacker.as_dict(private=False)
    tamper(clean_db, "UPDATE issuerkey SET public_jwk = :j, kid = :k WHERE id = :id",
           j=json.dumps(public, sort_keys=True), k=attacker.thumbprint(), id=stored.id)
    _forge(clean_db, world, attacker, attacker.thumbprint())
    assert "OK" in cli("audit", "verify")  # consistent in itself
    out = cli("audit", "verify", "--checkpoints", str(saved), code=1)
    assert "CHECKPOINT: the key of Riverside Toyota in the database is not the one in the saved copy" in out
    assert "checkpoint #1 of Riverside Toyota in the database differs from the saved copy" in out
    assert "the saved copy of checkpoint #1 of Riverside Toyota" in out and "event #3 was deleted" in out


def test_a_deleted_or_rewritten_checkpoint_row_differs_from_the_saved_copy(cli, clean_db, world, assigned, browser,
                                                                          tmp_path):
    history(clean_db, world, assigned)
    cli("audit", "checkpoint")
    with clean_db.transaction() as db:
        signoffs.comment(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.1", note="Well done")
    cli("audit", "checkpoint")
    saved = tmp_path / "saved.json"
    saved.write_text(browser.get(f"/orgs/{world.shop.id}/checkpoints.json").text)
    # Delete the newest event and the newest checkpoint: the database agrees with itself again.
    tamper(clean_db, "DELETE FROM progressevent WHERE assignment_id = :a AND seq = 4", a=assigned.id)
    tamper(clean_db, "DELETE FROM auditcheckpoint WHERE organization_id = :o AND number = 2", o=world.shop.id)
    assert "OK" in cli("audit", "verify")
    out = cli("audit", "verify", "--checkpoints", str(saved), code=1)
    assert ("CHECKPOINT: checkpoint #2 of Riverside Toyota is in the saved copy but no longer in the database"
            in out)
    assert "the saved copy of checkpoint #2 of Riverside Toyota" in out and "event #4 was deleted" in out


def test_a_checkpoint_is_written_when_a_record_or_credential_is_issued(clean_db, world, assigned, browser):
    history(clean_db, world, assigned)
    browser.login(world.manager.email)
    assert browser.post(f"/assignments/{assigned.id}/records/export", {"format": "json"}).status_code == 200
    with clean_db.session() as db:
        [first] = db.exec(select(AuditCheckpoint).where(AuditCheckpoint.organization_id == world.shop.id)).all()
        content = checkpoints.verified_statement(db, first.token)
        record_issued = db.exec(select(AuditEntry.id).where(AuditEntry.action == "record.issue")).one()
    assert content["chains"] == [{"assignment": assigned.id, "events": 3, "head": content["chains"][0]["head"]}]
    assert content["audit"]["through"] >= record_issued  # the issue itself is covered
    mentor = actor_for(clean_db, world.mentor)
    with clean_db.transaction() as db:
        for t in signoffs.tasks_of(db, assigned):
            if t.area_code == "VIII" and not t.not_applicable:
                signoffs.sign_off(db, mentor, assigned.id, t.code, rating=4, pin=None)
    assert browser.post(f"/assignments/{assigned.id}/credentials").status_code == 303
    with clean_db.session() as db:
        newest = checkpoints.newest(db, world.shop.id)
        content = checkpoints.verified_statement(db, newest.token)
        signed = db.exec(select(ProgressEvent).where(ProgressEvent.assignment_id == assigned.id)
                         .order_by(ProgressEvent.seq.desc())).first()
        assert credentials.active_credentials(db, assigned.id)
    assert newest.number == 2 and content["chains"][0] == {"assignment": assigned.id, "events": signed.seq,
                                                          "head": signed.hash}


def test_the_published_checkpoints_need_no_sign_in_and_verify_with_the_published_key(cli, clean_db, world, assigned,
                                                                                     browser):
    history(clean_db, world, assigned)
    cli("audit", "checkpoint")
    with clean_db.transaction() as db:
        signoffs.comment(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.1", note="Well done")
    cli("audit", "checkpoint")
    response = browser.get(f"/orgs/{world.shop.id}/checkpoints.json")  # nobody signed in
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    published = response.json()["checkpoints"]
    assert [c["number"] for c in published] == [2, 1]  # newest first
    jwks = browser.get(f"/orgs/{world.shop.id}/jwks.json").json()
    did = browser.get(f"/orgs/{world.shop.id}/did.json").json()
    for entry in published:
        assert entry["kid"] in did["assertionMethod"]  # the kid resolves in the DID document
        signed = jwcrypto_jws.JWS()  # an independent JOSE library
        signed.deserialize(entry["jws"])
        key = jwk.JWK(**next(k for k in jwks["keys"] if k["kid"] == entry["kid"]))
        signed.verify(key, alg="ES256")
        assert json.loads(signed.payload) == entry["statement"]
    assert published[0]["statement"]["chains"][0]["events"] == 4
    assert browser.get("/orgs/999999/checkpoints.json").status_code == 404


def test_the_attackers_key_swap_alone_is_caught_by_the_key_id(cli, clean_db, world, assigned):
    history(clean_db, world, assigned)
    cli("audit", "checkpoint")
    attacker = ECKey.generate_key("P-256")
    with clean_db.session() as db:
        stored = db.exec(select(IssuerKey).where(IssuerKey.organization_id == world.shop.id,
                                                 IssuerKey.algorithm == "ES256")).one()
    tamper(clean_db, "UPDATE issuerkey SET public_jwk = :j WHERE id = :id",
           j=json.dumps(attacker.as_dict(private=False), sort_keys=True), id=stored.id)
    out = cli("audit", "verify", code=1)
    assert "does not match its key id" in out


def test_checkpoints_written_while_others_write_still_verify(clean_db, world, assigned):
    """PostgreSQL hands out entry ids before commit: a checkpoint must wait for the writers in flight, or
    it states a digest up to an id that lacks an entry committed just after."""
    actor = actor_for(clean_db, world.manager)
    with clean_db.transaction() as db:
        keys.ensure_keys(db, SECRET)
    errors: list = []

    def change(i):
        try:
            for _ in range(8):
                with clean_db.transaction() as db:
                    audit.record(db, actor, "test.change", world.shop, org_id=world.shop.id, writer=i)
                    time.sleep(0.005)  # commit a little after the entry got its id
        except Exception as exc:
            errors.append(exc)

    def anchor():
        try:
            for _ in range(10):
                with clean_db.transaction() as db:
                    assert checkpoints.write_all(db, secret=SECRET, base_url=BASE)[1] == []
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(i,)) for i in range(8)] + [threading.Thread(target=anchor)
                                                                                for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with clean_db.session() as db:
        assert len(db.exec(select(AuditCheckpoint)).all()) > 3
        result = checkpoints.verify(db)
        assert (result.problems, result.findings) == ([], [])
