"""Credit for prior learning (issue #18, item 5): import a credential from another organization of this product or
from a foreign issuer, verify it, credit the tasks it names, re-check them.

The foreign issuer is made here: an Ed25519 key (Data Integrity) and a P-256 key (VC-JWT, signed with jwcrypto
1.5+, a JOSE library we did not write), a did:web document and a Bitstring Status List served by a plain
http.server thread on 127.0.0.1."""

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from sqlmodel import select

from exports import baking, credentials, dataintegrity, prior, statuslist
from mentoring.access.policy import Actor
from mentoring.oversight import dashboard
from mentoring.progress import board, customize, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import Assignment, PriorCredit
from mentoring.trail.models import AuditEntry
from tasklists import store

from .conftest import actor_for, count_rows
from .test_credentials import BASE, SECRET

OB = [credentials.VC_CONTEXT, credentials.OB_CONTEXT, credentials.OB_EXTENSIONS_CONTEXT]
SCHOOL = "Lakeshore Technical College"


# --- a credential issued by this product for another organization (Hillcrest Auto) ------------------------------

@pytest.fixture
def hillcrest_credential(db, world, clean_db):
    """Area I signed for Olga Mentee at Hillcrest and its credentials issued by Hillcrest's own code path."""
    operator = Actor(None, "test", True)
    manager = actor_for(clean_db, world.other_manager)
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    task_list = customize.start_list(db, manager, world.other_shop, template_id=automobile.id, level="MLR",
                                     name="Hillcrest MLR")
    version = customize.publish(db, manager, task_list)
    assignment = customize.assign(db, operator, world.other_shop, AssignmentIn(
        triad_id=world.other_triad.id, version_id=version.id, start_date="2026-09-01"))
    db.commit()
    mentor = actor_for(clean_db, world.other_mentor)
    with clean_db.transaction() as tx:
        for t in signoffs.tasks_of(tx, assignment):
            if t.area_code == "I" and not t.not_applicable:
                signoffs.sign_off(tx, mentor, assignment.id, t.code, rating=4, pin=None)
    with clean_db.transaction() as tx:
        issued = credentials.issue_credentials(tx, manager, tx.get(Assignment, assignment.id), base_url=BASE,
                                               secret=SECRET)
        return next(c for c in issued if c.achievement_key == "area:I")


def _upload(browser, assignment_id: int, data: bytes, name: str = "badge.jwt"):
    return browser.post(f"/assignments/{assignment_id}/prior", files={"file": (name, data)})


def test_a_credential_this_product_issued_for_another_shop_is_verified_mapped_and_credited(
        clean_db, world, assigned, hillcrest_credential, browser):
    browser.login(world.manager.email)
    shown = _upload(browser, assigned.id, hillcrest_credential.token.encode())
    assert shown.status_code == 200, shown.text
    assert "Hillcrest Auto" in shown.text and 'value="I.A.1"' in shown.text
    assert 'value="I.A.2"' not in shown.text  # not applicable on our list: not offered

    done = browser.post(f"/assignments/{assigned.id}/prior/credit",
                        {"evidence": hillcrest_credential.token, "codes": ["I.A.1", "I.D.1"]})
    assert done.status_code == 303, done.text
    with clean_db.session() as db:
        rows = db.exec(select(PriorCredit).order_by(PriorCredit.task_code)).all()
        assert [r.task_code for r in rows] == ["I.A.1", "I.D.1"]
        assert rows[0].evidence == hillcrest_credential.token  # kept exactly as received
        assert rows[0].issuer_name == "Hillcrest Auto" and rows[0].issuer_id.endswith(f"orgs:{world.other_shop.id}")
        assert db.exec(select(AuditEntry).where(AuditEntry.action == "prior.credit")).all()
        b = board.board(db, db.get(Assignment, assigned.id))
        achieved = {r.task.code for r in b.rows if signoffs.achieved(r.task, r.state, b.version.required_rating)}
        assert achieved == {"I.A.1", "I.D.1"}  # credited counts through the one definition of achieved
    page = browser.get(f"/assignments/{assigned.id}/tasks/I.A.1")
    assert "Credited from Hillcrest Auto" in page.text

    # The Data Integrity form and the baked PNG of the same credential are read too.
    with clean_db.session() as db:
        di = prior.read_credential(db, hillcrest_credential.di_json.encode())
        png, _, _ = baking.badge_file(hillcrest_credential, "png")
        baked = prior.read_credential(db, png)
    assert "I.A.1" in di.codes and "I.A.1" in baked.codes


def test_revoked_and_tampered_credentials_of_this_product_are_refused_and_nothing_is_written(
        clean_db, world, assigned, hillcrest_credential, browser):
    browser.login(world.manager.email)
    header, payload, signature = hillcrest_credential.token.split(".")
    claims = credentials.payload_of(hillcrest_credential.token)
    claims["name"] = "Master Technician"
    forged = ".".join([header, prior.base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="),
                       signature])
    before = count_rows(clean_db)
    refused = _upload(browser, assigned.id, forged.encode())
    assert refused.status_code == 422 and "signature does not match" in refused.text
    with clean_db.transaction() as db:
        credentials.revoke_credential(db, actor_for(clean_db, world.other_manager),
                                      db.get(type(hillcrest_credential), hillcrest_credential.id), "Issued in error")
    before = count_rows(clean_db)
    refused = _upload(browser, assigned.id, hillcrest_credential.token.encode())
    assert refused.status_code == 422 and "revoked this credential" in refused.text
    again = browser.post(f"/assignments/{assigned.id}/prior/credit",
                         {"evidence": hillcrest_credential.token, "codes": ["I.A.1"]})
    assert again.status_code == 400 and "revoked" in again.text
    assert count_rows(clean_db) == before


def test_a_non_credential_upload_gets_a_clear_4xx_and_only_our_managers_may_import(
        clean_db, world, assigned, browser, other_browser):
    token = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"  # who may call is decided before the file is read
    browser.login(world.manager.email)
    for data, words in ((b"hello, world", "not a credential"), (b'{"name": "x"}', "not an Open Badges"),
                        (b"\x89PNG\r\n\x1a\nrubbish", "carries no Open Badges credential")):
        answer = _upload(browser, assigned.id, data, "x.bin")
        assert answer.status_code == 422 and words in answer.text
    other_browser.login(world.other_manager.email)  # Hillcrest's manager, into Riverside's mentee: not there
    assert _upload(other_browser, assigned.id, token.encode()).status_code == 404
    assert other_browser.post(f"/assignments/{assigned.id}/prior/credit", {
        "evidence": token, "codes": ["I.A.1"]}).status_code == 404
    other_browser.logout()
    other_browser.login(world.mentee.email)  # the mentee sees her record but imports nothing
    assert _upload(other_browser, assigned.id, token.encode()).status_code == 403
    with clean_db.session() as db:
        assert db.exec(select(PriorCredit)).all() == []


# --- a foreign issuer with its own did:web document ------------------------------------------------------------

class _Issuer:
    """A school that issues credentials under did:web:127.0.0.1%3A<port>:school, served by http.server."""

    def __init__(self):
        self.documents: dict[str, bytes] = {}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = issuer.documents.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}/school"
        self.did = f"did:web:{quote(f'127.0.0.1:{self.server.server_port}', safe='')}:school"
        self.ed = Ed25519PrivateKey.generate()
        self.p256 = jwk.JWK.generate(kty="EC", crv="P-256")
        self.revoked: set[int] = set()
        public = self.p256.export_public(as_dict=True)
        self.documents["/school/did.json"] = json.dumps({
            "@context": ["https://www.w3.org/ns/did/v1"], "id": self.did,
            "verificationMethod": [
                {"id": f"{self.did}#ed", "type": "Multikey", "controller": self.did,
                 "publicKeyMultibase": dataintegrity.public_key_multibase(self.ed.public_key())},
                {"id": f"{self.did}#p256", "type": "JsonWebKey2020", "controller": self.did, "publicKeyJwk": public}],
            "assertionMethod": [f"{self.did}#ed", f"{self.did}#p256"]}).encode()
        self.publish_status()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish_status(self):
        listed = statuslist.unsigned_list(self.base, 0, frozenset(self.revoked), prior.utcnow())
        listed.update(id=f"{self.base}/status.json", issuer=self.did)
        listed["credentialSubject"]["id"] = f"{self.base}/status.json#list"
        signed = dataintegrity.add_proof(listed, self.ed, verification_method=f"{self.did}#ed",
                                         created="2026-01-01T00:00:00Z")
        self.documents["/school/status.json"] = json.dumps(signed).encode()

    def credential(self, codes: list[str], index: int) -> dict:
        return {
            "@context": OB, "id": f"urn:uuid:{uuid.uuid4()}", "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "Engine repair fundamentals", "issuer": {"id": self.did, "type": ["Profile"], "name": SCHOOL},
            "validFrom": "2026-05-01T00:00:00Z",
            "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
                "id": "https://lakeshore.example/achievements/engine-1", "type": ["Achievement"],
                "name": "Engine repair fundamentals", "description": "Lab tasks of course AUT-110.",
                "criteria": {"narrative": "Each task performed in the lab and checked by the instructor."},
                "alignment": [{"type": ["Alignment"], "targetCode": c, "targetName": f"ASE task {c}",
                               "targetUrl": f"https://lakeshore.example/tasks/{c}", "targetType": "CFItem"}
                              for c in codes]}},
            "credentialStatus": {"id": f"{self.base}/status.json#{index}", "type": "BitstringStatusListEntry",
                                 "statusPurpose": "revocation", "statusListIndex": str(index),
                                 "statusListCredential": f"{self.base}/status.json"},
        }

    def data_integrity(self, credential: dict) -> bytes:
        return json.dumps(dataintegrity.add_proof(credential, self.ed, verification_method=f"{self.did}#ed",
                                                  created="2026-05-01T00:00:00Z")).encode()

    def vc_jwt(self, credential: dict) -> bytes:
        token = jwcrypto_jws.JWS(json.dumps(credential).encode())
        token.add_signature(self.p256, alg="ES256", protected={"alg": "ES256", "typ": "vc+jwt",
                                                               "kid": f"{self.did}#p256"})
        return token.serialize(compact=True).encode()


@pytest.fixture
def school(monkeypatch):
    monkeypatch.setattr(prior, "ALLOW_LOCAL_HOSTS", True)
    issuer = _Issuer()
    yield issuer
    issuer.server.shutdown()
    issuer.server.server_close()


def test_a_foreign_issuers_credential_is_verified_through_its_did_web_and_credited(
        clean_db, world, assigned, school, browser):
    browser.login(world.manager.email)
    signed = school.data_integrity(school.credential(["I.A.1", "I.A.3", "XX.9"], index=7))
    shown = _upload(browser, assigned.id, signed, "engine.json")
    assert shown.status_code == 200, shown.text
    assert SCHOOL in shown.text and 'value="I.A.3"' in shown.text and 'value="XX.9"' not in shown.text
    done = browser.post(f"/assignments/{assigned.id}/prior/credit", {"evidence": signed.decode(), "codes": ["I.A.3"]})
    assert done.status_code == 303, done.text
    jwt = school.vc_jwt(school.credential(["I.A.1"], index=8))  # the VC-JWT form, P-256 key from the same document
    with clean_db.session() as db:
        assert prior.read_credential(db, jwt).codes == {"I.A.1": "ASE task I.A.1"}
        row = db.exec(select(PriorCredit)).one()
        assert (row.task_code, row.issuer_name, row.issuer_id) == ("I.A.3", SCHOOL, school.did)
        assert row.evidence == signed.decode() and row.evidence_sha256 == prior.hashlib.sha256(signed).hexdigest()
    assert "Credited from " + SCHOOL in browser.get(f"/assignments/{assigned.id}/tasks/I.A.3").text


def test_a_tampered_or_revoked_foreign_credential_is_refused_with_a_clear_message(
        clean_db, world, assigned, school, browser):
    browser.login(world.manager.email)
    document = json.loads(school.data_integrity(school.credential(["I.A.1"], index=11)))
    document["credentialSubject"]["achievement"]["alignment"][0]["targetCode"] = "I.A.3"
    before = count_rows(clean_db)
    refused = _upload(browser, assigned.id, json.dumps(document).encode(), "engine.json")
    assert refused.status_code == 422 and "signature does not match" in refused.text
    school.revoked.add(12)
    school.publish_status()
    for signed in (school.data_integrity(school.credential(["I.A.1"], index=12)),
                   school.vc_jwt(school.credential(["I.A.1"], index=12))):
        refused = _upload(browser, assigned.id, signed)
        assert refused.status_code == 422 and "The issuer revoked this credential" in refused.text
    school.documents["/school/did.json"] = json.dumps({"id": school.did, "verificationMethod": [],
                                                       "assertionMethod": []}).encode()
    refused = _upload(browser, assigned.id, school.data_integrity(school.credential(["I.A.1"], index=13)))
    assert refused.status_code == 422 and "does not list the key" in refused.text
    assert count_rows(clean_db) == before


def test_did_web_fetches_refuse_local_hosts_and_plain_http(monkeypatch):
    assert prior.did_web_url("did:web:example.edu") == "https://example.edu/.well-known/did.json"
    assert prior.did_web_url("did:web:example.edu:orgs:4") == "https://example.edu/orgs/4/did.json"
    with pytest.raises(OSError, match="local addresses are not fetched"):
        prior.fetch_url("http://127.0.0.1:9/did.json")  # a local address, not allowed outside tests
    with pytest.raises(OSError, match="only https is fetched"):
        prior.fetch_url("http://example.edu/did.json")  # plain http to a public host
    # A public-looking name that points into our own network is refused before anything is sent.
    monkeypatch.setattr(prior.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))])
    with pytest.raises(OSError, match="local addresses are not fetched"):
        prior.fetch_url("https://school.example/did.json")


# --- re-check by the mentor --------------------------------------------------------------------------------------

def achieved_on_dashboard(progress) -> int:
    return sum(p.achieved for p in progress.report.overall.priorities.values()) + progress.report.overall.shop_achieved


def test_the_mentor_rechecks_a_credit_and_a_failed_recheck_withdraws_it(
        clean_db, world, assigned, hillcrest_credential, browser, other_browser):
    browser.login(world.manager.email)
    assert browser.post(f"/assignments/{assigned.id}/prior/credit", {
        "evidence": hillcrest_credential.token, "codes": ["I.A.1", "I.D.1"]}).status_code == 303
    with clean_db.session() as db:
        first, second = db.exec(select(PriorCredit).order_by(PriorCredit.task_code)).all()
        # The manager's dashboard counts credits as the task page does (no event marks them).
        progress = dashboard.progress_of(db, [db.get(Assignment, assigned.id)])[assigned.id]
        assert achieved_on_dashboard(progress) == 2 and progress.signed == 0
    other_browser.login(world.mentee.email)
    assert other_browser.post(f"/prior-credits/{first.id}/recheck", {"outcome": "passed"}).status_code == 403
    other_browser.logout()
    other_browser.login(world.mentor.email)
    assert other_browser.get(f"/assignments/{assigned.id}/prior").status_code == 200
    assert other_browser.post(f"/prior-credits/{first.id}/recheck", {"outcome": "passed"}).status_code == 303
    no_reason = other_browser.post(f"/prior-credits/{second.id}/recheck", {"outcome": "failed"})
    assert no_reason.status_code == 400
    assert other_browser.post(f"/prior-credits/{second.id}/recheck",
                              {"outcome": "failed", "reason": "Could not do it on our engine"}).status_code == 303
    with clean_db.session() as db:
        kept = db.exec(select(PriorCredit)).one()
        assert kept.task_code == "I.A.1" and kept.rechecked_by_id == world.mentor.id and kept.rechecked_at
        withdrawn = db.exec(select(AuditEntry).where(AuditEntry.action == "prior.withdraw")).one()
        assert json.loads(withdrawn.detail)["sha256"] == second.evidence_sha256
        b = board.board(db, db.get(Assignment, assigned.id))
        achieved = {r.task.code for r in b.rows if signoffs.achieved(r.task, r.state, b.version.required_rating)}
        assert achieved == {"I.A.1"}
        assert achieved_on_dashboard(dashboard.progress_of(db, [db.get(Assignment, assigned.id)])[assigned.id]) == 1


def test_a_schools_signed_csv_credits_the_students_passed_tasks_and_a_changed_file_is_refused(
        clean_db, world, assigned, school, browser):
    """The detached JWS (RFC 7515 appendix F) is made with jwcrypto over the file's exact bytes."""
    data = (b"student_id,task_code,completed_on,result\r\nS-1042,I.A.1,2026-04-12,pass\r\n"
            b"S-1042,I.A.3,2026-04-19,fail\r\nS-1042,I.A.4,2026-04-20,4\r\nS-2000,I.A.5,2026-04-20,pass\r\n")
    signed = jwcrypto_jws.JWS(data)
    signed.add_signature(school.p256, alg="ES256", protected={"alg": "ES256", "kid": f"{school.did}#p256"})
    header, _, signature = signed.serialize(compact=True).split(".")
    detached = f"{header}..{signature}"
    browser.login(world.manager.email)

    def upload(content: bytes):
        return browser.post(f"/assignments/{assigned.id}/prior/school-csv", {"signature": detached,
                                                                             "student_id": "S-1042"},
                            files={"file": ("tasks.csv", content)})

    changed = upload(data.replace(b"fail", b"pass"))
    assert changed.status_code == 422 and "signature does not match the file" in changed.text
    shown = upload(data)
    assert shown.status_code == 200, shown.text
    assert 'value="I.A.1"' in shown.text and 'value="I.A.4"' in shown.text
    assert 'value="I.A.3"' not in shown.text and 'value="I.A.5"' not in shown.text  # failed; another student
    evidence = re.search(r'name="evidence" value="([^"]+)"', shown.text).group(1)
    done = browser.post(f"/assignments/{assigned.id}/prior/credit", {
        "source": "school_csv", "evidence": evidence, "signature": detached, "student_id": "S-1042",
        "codes": ["I.A.1", "I.A.4"]})
    assert done.status_code == 303, done.text
    with clean_db.session() as db:
        rows = db.exec(select(PriorCredit).order_by(PriorCredit.task_code)).all()
    assert [(r.task_code, r.source) for r in rows] == [("I.A.1", "school_csv"), ("I.A.4", "school_csv")]
    kept = json.loads(rows[0].evidence)
    assert "S-2000" not in rows[0].evidence and kept["signature"] == detached
    assert rows[0].evidence_sha256 == kept["file_sha256"] == prior.hashlib.sha256(data).hexdigest()
