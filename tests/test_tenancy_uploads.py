"""Work before permission: uploads are read and decoded only for callers who may act on the target, under a
pixel cap, at a reduced scale where the format allows it, and never more than N decodes at once."""

import threading
import time
from io import BytesIO

import httpx
import pytest
from PIL import Image
from sqlmodel import select

from mentoring.errors import FormError
from mentoring.progress import evidence
from mentoring.progress.evidence import DecodeGate, PhotoBusy, store_photo
from mentoring.progress.models import EvidencePhoto, ProgressEvent
from tasklists import files
from web.settings import Settings

from .conftest import PASSWORD, count_rows, field_error

CODE = "0.A.1"  # a safety task: signable first at any shop


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    # Two decode slots, as in production; the tests below count them.
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 40,
                    photo_decodes=2, photo_decode_wait_seconds=30)


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """36 megapixels in a few tens of KB: what an attacker sends."""
    out = BytesIO()
    Image.new("L", (6000, 6000), 200).save(out, "PNG")
    return out.getvalue()


def jpeg(size=(64, 48), **save) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, "teal").save(out, "JPEG", **save)
    return out.getvalue()


@pytest.fixture
def decodes(monkeypatch):
    """Every photo that reaches the decoder, header parsing included."""
    seen: list[int] = []
    real = evidence._reencode

    def counting(file, *args, **kw):
        seen.append(file)
        return real(file, *args, **kw)

    monkeypatch.setattr(evidence, "_reencode", counting)
    return seen


def sign(b, assignment, photo: bytes, name="bay.png", pin="2580", code=CODE):
    return b.post(f"/assignments/{assignment.id}/tasks/{code}/signoff", {"rating": "3", "pin": pin},
                  files={"photo": (name, photo, "image/png")})


def nothing_stored(clean_db, settings) -> bool:
    with clean_db.session() as db:
        events = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff")).all()
        photos = db.exec(select(EvidencePhoto)).all()
    folder = settings.upload_dir
    return not events and not photos and (not folder.exists() or not any(folder.iterdir()))


# --- sign-off photos: the caller is checked before the photo is read ---------------------------------

def test_a_mentor_of_another_shop_gets_404_and_the_photo_is_never_decoded(other_browser, world, assigned, huge_png,
                                                                          decodes, clean_db, settings):
    other_browser.login(world.other_mentor.email)
    response = sign(other_browser, assigned, huge_png)
    assert response.status_code == 404
    assert decodes == []
    assert nothing_stored(clean_db, settings)


@pytest.mark.parametrize("persona", ["mentee", "instructor", "manager"])
def test_people_who_see_the_mentee_but_may_not_sign_get_403_before_any_decode(other_browser, world, assigned,
                                                                              huge_png, decodes, clean_db,
                                                                              settings, persona):
    other_browser.login(getattr(world, persona).email)
    response = sign(other_browser, assigned, huge_png)
    assert response.status_code == 403
    assert decodes == []
    assert nothing_stored(clean_db, settings)


def test_a_mentor_of_another_shop_on_their_own_shops_tablet_gets_404_without_a_decode(other_browser, world,
                                                                                      assigned, huge_png, decodes,
                                                                                      clean_db, settings):
    other_browser.login(world.other_manager.email)
    assert other_browser.post(f"/shops/{world.other_shop.id}/tablets", {"name": "Bay 9"}).status_code == 303
    assert other_browser.post(f"/tablet/mentors/{world.other_mentor.id}", {"pin": "2580"}).status_code == 303
    response = sign(other_browser, assigned, huge_png, pin="")
    assert response.status_code == 404
    assert decodes == []
    assert nothing_stored(clean_db, settings)


def test_the_assignments_mentor_gets_the_photo_decoded_once_and_stored(browser, world, assigned, decodes, clean_db):
    browser.login(world.mentor.email)
    response = sign(browser, assigned, jpeg(), name="bay.jpg")
    assert response.status_code == 303, response.text
    assert len(decodes) == 1
    with clean_db.session() as db:
        assert len(db.exec(select(EvidencePhoto)).all()) == 1


# --- the pixel cap and decoding at a reduced scale ------------------------------------------------

def test_a_photo_above_the_pixel_cap_is_refused_with_a_field_error_and_nothing_is_stored(browser, world, assigned,
                                                                                          huge_png, clean_db,
                                                                                          settings):
    browser.login(world.mentor.email)
    response = sign(browser, assigned, huge_png)
    assert response.status_code == 400
    assert "more than 16 megapixels" in field_error(response.text, "photo")
    assert nothing_stored(clean_db, settings)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_stored_within_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_DECODED_PIXELS", 100 * 100)
    stored = store_photo(jpeg(size=(400, 300)), tmp_path)
    with Image.open(tmp_path / stored.stored_name) as img:
        # 1/2 scale would still be 30,000 pixels; 1/4 is the first DCT scale within 10,000.
        assert img.size == (100, 75)


def test_a_phone_photo_within_the_budget_is_stored_at_full_size(tmp_path):
    stored = store_photo(jpeg(size=(1600, 1200)), tmp_path)
    with Image.open(tmp_path / stored.stored_name) as img:
        assert img.size == (1600, 1200)


def test_a_progressive_jpeg_cannot_be_scaled_on_load_so_it_must_fit_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_DECODED_PIXELS", 100 * 100)
    assert store_photo(jpeg(size=(400, 300)), tmp_path)  # baseline: scaled down
    with pytest.raises(FormError) as refused:
        store_photo(jpeg(size=(400, 300), progressive=True), tmp_path)
    assert "megapixels" in refused.value.errors["photo"]
    assert len(list(tmp_path.iterdir())) == 2  # the baseline photo and its thumbnail only


# --- at most N decodes at once ------------------------------------------------------------------------

def test_never_more_decodes_run_at_once_than_the_gate_has_slots():
    gate = DecodeGate(2, wait_seconds=30)
    running, peak, lock = [0], [0], threading.Lock()

    def slow_decode():
        with gate.turn():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=slow_decode) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_parallel_uploads_to_a_live_server_decode_two_at_a_time(live_server, world, assigned, clean_db,
                                                                monkeypatch):
    running, peak, lock = [0], [0], threading.Lock()
    real = evidence._decode_and_encode

    def slow(img):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        try:
            return real(img)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(evidence, "_decode_and_encode", slow)
    with httpx.Client(base_url=live_server.url) as client:
        client.get("/login")
        client.post("/login", data={"email": world.mentor.email, "password": PASSWORD,
                                    "_csrf_token": client.cookies["csrftoken"]})
        cookies = dict(client.cookies)
    codes = ["0.A.1", "0.A.2", "0.A.3", "0.A.4", "0.A.5", "0.A.6"]
    barrier = threading.Barrier(len(codes))
    statuses: list[int] = []

    def upload(code):
        with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=60) as c:
            barrier.wait()
            r = c.post(f"/assignments/{assigned.id}/tasks/{code}/signoff",
                       data={"rating": "3", "pin": "2580", "_csrf_token": cookies["csrftoken"]},
                       files={"photo": ("bay.jpg", jpeg(), "image/jpeg")})
            statuses.append(r.status_code)

    threads = [threading.Thread(target=upload, args=(code,)) for code in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303] * len(codes)
    assert peak[0] == 2
    with clean_db.session() as db:
        assert len(db.exec(select(EvidencePhoto)).all()) == len(codes)


def test_a_photo_that_waits_too_long_for_a_slot_is_refused_and_nothing_is_stored(tmp_path):
    gate = DecodeGate(1, wait_seconds=0.05)
    with gate.turn():  # another upload is being decoded
        with pytest.raises(PhotoBusy) as busy:
            store_photo(jpeg(), tmp_path, gate=gate)
    assert "busy" in busy.value.errors["photo"]
    assert list(tmp_path.iterdir()) == []
    assert store_photo(jpeg(), tmp_path, gate=gate)  # the slot is free again


def test_a_sign_off_that_finds_no_free_slot_gets_503_with_retry_after_and_its_form_back(app, browser, world,
                                                                                         assigned, clean_db,
                                                                                         settings):
    app.state.photo_gate = DecodeGate(1, wait_seconds=0.05)
    browser.login(world.mentor.email)
    with app.state.photo_gate.turn():
        response = browser.post(f"/assignments/{assigned.id}/tasks/{CODE}/signoff",
                                {"rating": "3", "pin": "2580", "note": "Bled the brakes"},
                                files={"photo": ("bay.jpg", jpeg(), "image/jpeg")})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "busy" in field_error(response.text, "photo")
    assert "Bled the brakes" in response.text
    assert nothing_stored(clean_db, settings)


# --- task-list import: the shop is checked before the file is parsed -------------------------------

@pytest.fixture
def parses(monkeypatch):
    seen: list[bytes] = []
    real = files.parse

    def counting(raw, *args, **kw):
        seen.append(raw)
        return real(raw, *args, **kw)

    monkeypatch.setattr(files, "parse", counting)
    return seen


BIG_CSV = b"program,edition,title\n" + b"automobile,2024,Padding\n" * 200_000  # about 5 MB


@pytest.mark.parametrize("persona", ["other_manager", "mentor", "instructor"])
def test_someone_who_may_not_import_into_the_shop_gets_404_and_the_file_is_never_parsed(other_browser, world,
                                                                                       parses, clean_db, persona):
    other_browser.login(getattr(world, persona).email)
    before = count_rows(clean_db)
    response = other_browser.post(f"/shops/{world.shop.id}/tasklists/import", {"import_name": "Mine now"},
                                  files={"file": ("list.csv", BIG_CSV, "text/csv")})
    assert response.status_code == 404
    assert parses == []
    assert count_rows(clean_db) == before


def test_the_shops_manager_gets_the_file_parsed(browser, world, parses, clean_db):
    browser.login(world.manager.email)
    response = browser.post(f"/shops/{world.shop.id}/tasklists/import", {"import_name": "Ours"},
                            files={"file": ("list.csv", b"program,edition,title\nautomobile,2024,X\n", "text/csv")})
    assert response.status_code == 400  # a broken file, refused line by line: but it was parsed
    assert len(parses) == 1


# --- request bodies: only the routes that take files accept large ones ------------------------------

def test_a_large_body_to_a_form_without_files_is_refused_before_it_is_read(other_browser, world, assigned):
    other_browser.login(world.other_mentor.email)
    response = other_browser.post(f"/assignments/{assigned.id}/tasks/{CODE}/comment",
                                  {"note": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
