"""Baked badges (issue 19, item 4): the project draws the badge and bakes the credential in, as Open Badges 3.0
section 5.3 defines; /verify and `mentoring verify` read it back.

Extraction is checked with code we did not write: pypng 0.20220715.0 walks the PNG's chunks (and checks their
CRCs), the Python standard library's xml.etree.ElementTree (CPython 3.11+) parses the SVG, and openbadgeslib
4.6.3 (an OB 3.0 verifier from PyPI, a test dependency that helper `outside` adds) extracts from both."""

import io
import json
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

import png  # pypng
import pytest
from PIL import Image

from exports import baking, credentials, verify

from .test_credentials import cli, issue, sign_area  # noqa: F401  (cli is a fixture)

OB = "https://purl.imsglobal.org/ob/v3p0"
SVG = "http://www.w3.org/2000/svg"
assert png.__version__ == "0.20220715.0", png.__version__  # the version these tests were written against


def openbadgeslib_extracts(png_bytes: bytes, svg_bytes: bytes) -> tuple[str, str]:
    verifier = pytest.importorskip("openbadgeslib.ob3.verifier").OB3Verifier
    return verifier.extract_token_from_png(png_bytes), verifier.extract_token_from_svg(svg_bytes)


def itxt_chunks(data: bytes) -> list[dict]:
    """Every iTXt chunk, read by pypng, with its fields split as the PNG specification (11.3.4.5) lays them out."""
    found = []
    for kind, body in png.Reader(bytes=data).chunks():
        if kind == b"iTXt":
            keyword, rest = body.split(b"\0", 1)
            flag, method, rest = rest[0], rest[1], rest[2:]
            language, translated, text = rest.split(b"\0", 2)
            found.append({"keyword": keyword.decode("latin-1"), "compressed": flag, "method": method,
                          "language": language, "translated": translated, "text": text.decode()})
    return found


def svg_credential(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{{{SVG}}}svg"
    assert root[0].tag == f"{{{OB}}}credential"  # directly after the <svg> tag
    assert len(root.findall(f".//{{{OB}}}credential")) == 1
    return root[0]


def with_chunk_text(data: bytes, change) -> bytes:
    """The PNG with its openbadgecredential chunk's text changed and the chunk's CRC recomputed, as any editor
    would write it: only the signature can then tell."""
    at, out = 8, [data[:8]]
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"iTXt" and body.startswith(b"openbadgecredential\0"):
            head, text = body.rsplit(b"\0", 1)
            body = head + b"\0" + change(text.decode()).encode()
        out.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body)))
        at += 12 + length
    return b"".join(out)


def flip(token: str) -> str:
    """One character of the payload changed (a changed header fails earlier, on its key id)."""
    at = token.index(".") + 40
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


@pytest.fixture
def earned(clean_db, world, assigned):
    sign_area(clean_db, world, assigned, "VIII")
    issued = issue(clean_db, world.manager, assigned)
    return next(c for c in issued if c.kind == "area"), next(c for c in issued if c.kind == "transcript")


def upload(browser, name: str, data: bytes, media_type: str):
    browser.get("/verify")
    return browser.client.post("/verify", data={"_csrf_token": browser.client.cookies["csrftoken"]},
                               files={"file": (name, data, media_type)})


def test_the_mentee_downloads_baked_badges_that_outside_parsers_read_and_verify_accepts(earned, world, browser):
    cred, transcript = earned
    browser.login(world.mentee.email)
    records = browser.get(f"/assignments/{cred.assignment_id}/records").text
    assert f"/credentials/{cred.id}/badge.png" in records and f"/credentials/{cred.id}/badge.svg" in records
    assert f"/credentials/{transcript.id}/badge.png" not in records
    got_png = browser.get(f"/credentials/{cred.id}/badge.png")
    got_svg = browser.get(f"/credentials/{cred.id}/badge.svg")
    assert browser.get(f"/credentials/{transcript.id}/badge.png").status_code == 404  # a CLR is not baked
    browser.logout()
    assert got_png.status_code == got_svg.status_code == 200
    assert got_png.headers["content-type"] == "image/png"
    assert got_svg.headers["content-type"].startswith("image/svg+xml")
    assert got_png.headers["content-disposition"].endswith('.png"')
    assert "no-store" in got_png.headers["cache-control"]

    # PNG: exactly one uncompressed iTXt chunk with the OB 3.0 keyword, whose text is the compact JWS.
    chunks = itxt_chunks(got_png.content)
    assert [c["keyword"] for c in chunks] == ["openbadgecredential"]
    assert chunks[0]["compressed"] == chunks[0]["method"] == 0 and chunks[0]["text"] == cred.token
    picture = Image.open(io.BytesIO(got_png.content))
    assert picture.size == (600, 600) and picture.mode == "RGBA"
    # SVG: the namespace, one credential element first, the JWS in its verify attribute.
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in got_svg.content
    element = svg_credential(got_svg.content)
    assert element.get("verify") == cred.token and not (element.text or "").strip()
    assert openbadgeslib_extracts(got_png.content, got_svg.content) == (cred.token, cred.token)
    # The drawing says what the credential says: program, area, level and shop.
    words = " ".join(t.text for t in ET.fromstring(got_svg.content).iter(f"{{{SVG}}}text"))
    vc = credentials.payload_of(cred.token)
    area = vc["credentialSubject"]["achievement"]["alignment"][0]
    assert "AUTOMOBILE SERVICE 2024" in words and f"AREA {area['targetCode']}" in words
    assert all(w in words for w in area["targetName"].split()) and "MLR" in words and "Riverside Toyota" in words

    for name, got in (("b.png", got_png), ("b.svg", got_svg)):
        answer = upload(browser, name, got.content, got.headers["content-type"])
        assert answer.status_code == 200 and "Authentic and current" in answer.text, answer.text[:400]
        assert vc["name"] in answer.text


def test_one_changed_character_in_a_baked_credential_fails(earned, clean_db, browser):
    cred, _ = earned
    face = baking.face_of(credentials.payload_of(cred.token))
    baked_png, baked_svg = baking.bake_png(cred.token, face), baking.bake_svg(cred.token, face)
    tampered_png = with_chunk_text(baked_png, flip)
    png.Reader(bytes=tampered_png).chunks().__next__()  # still a well-formed PNG, CRCs and all
    assert itxt_chunks(tampered_png)[0]["text"] == flip(cred.token)
    tampered_svg = baked_svg.replace(cred.token.encode(), flip(cred.token).encode())
    with clean_db.session() as db:
        assert verify.verify_bytes(db, baked_png).status == "current"
        bare = verify.verify_bytes(db, flip(cred.token).encode())
        for data in (tampered_png, tampered_svg):
            verdict = verify.verify_bytes(db, data)
            assert (verdict.kind, verdict.authentic, verdict.status, verdict.message) == (
                "credential", False, "invalid", bare.message)  # exactly as for the bare credential
        # A PNG damaged on the way (the chunk changed, its CRC not) is refused as damaged.
        broken = baked_png.replace(cred.token.encode(), flip(cred.token).encode())
        assert "damaged" in verify.verify_bytes(db, broken).message
    answer = upload(browser, "badge.png", tampered_png, "image/png")
    assert answer.status_code == 200 and "Not authentic" in answer.text and "signature does not match" in answer.text


def test_files_that_are_not_baked_badges_get_a_clear_refusal(clean_db, browser):
    plain = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(plain, "PNG")
    compressed = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_itxt("openbadgecredential", "a.b.c", zip=True)
    Image.new("RGB", (8, 8), "white").save(compressed, "PNG", pnginfo=info)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
              b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
              b'<openbadges:credential>&b;</openbadges:credential></svg>')
    cases = [
        (b"\x00\x01 not an image at all", "application/octet-stream", "not a completion record or a credential"),
        (plain.getvalue(), "image/png", "carries no Open Badges credential"),
        (compressed.getvalue(), "image/png", "compressed"),
        (laughs, "image/svg+xml", "DOCTYPE"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "image/svg+xml", "no openbadges:credential"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "image/svg+xml", "not well-formed"),
        (baking.PNG_SIGNATURE + b"\0" * (baking.MAX_IMAGE_BYTES + 1), "image/png", "larger than 4 MB"),
    ]
    for data, media_type, message in cases:
        answer = upload(browser, "badge", data, media_type)
        assert answer.status_code == 422 and message in answer.text, (message, answer.status_code, answer.text[-900:])
        assert "Not authentic" in answer.text
    huge = upload(browser, "badge.png", baking.PNG_SIGNATURE + b"\0" * verify.MAX_FILE_BYTES, "image/png")
    assert huge.status_code == 400 and "larger than any record" in huge.text
    with pytest.raises(baking.BakingError, match="not a PNG or SVG"):
        baking.unbake(b"%PDF-1.7")


def test_the_data_integrity_form_bakes_as_json_and_verifies_as_its_bare_file(earned, clean_db, world, browser):
    """The embedded-proof form goes in as the stored JSON (PNG text, SVG CDATA) and is checked by the same path as
    its .json file; a `]]>` inside the JSON cannot end the CDATA early."""
    cred, _ = earned
    assert cred.di_json
    browser.login(world.mentee.email)
    baked_png = browser.get(f"/credentials/{cred.id}/badge.png?proof=di")
    baked_svg = browser.get(f"/credentials/{cred.id}/badge.svg?proof=di")
    assert browser.get(f"/credentials/{cred.id}/badge.png?proof=nonsense").status_code == 404
    browser.logout()
    assert baked_png.status_code == baked_svg.status_code == 200
    assert itxt_chunks(baked_png.content)[0]["text"] == cred.di_json.strip()  # the wallet's file, byte for byte
    element = svg_credential(baked_svg.content)
    assert element.get("verify") is None and json.loads(element.text) == json.loads(cred.di_json)
    assert [json.loads(t) for t in openbadgeslib_extracts(baked_png.content, baked_svg.content)] == [
        json.loads(cred.di_json)] * 2
    name = json.loads(cred.di_json)["name"]
    changed = name[:-1] + ("X" if name[-1] != "X" else "Y")  # one character
    tampered = baked_svg.content.replace(name.encode(), changed.encode(), 1)  # the first is in the credential
    assert json.loads(svg_credential(tampered).text)["name"] == changed
    with clean_db.session() as db:
        bare = verify.verify_bytes(db, cred.di_json.encode())
        assert (bare.kind, bare.authentic, bare.status) == ("credential", True, "current")
        bad = verify.verify_bytes(db, cred.di_json.replace(name, changed, 1).encode())
        for data, expected in ((baked_png.content, bare), (baked_svg.content, bare), (tampered, bad)):
            verdict = verify.verify_bytes(db, data)
            assert (verdict.kind, verdict.authentic, verdict.status, verdict.message) == (
                expected.kind, expected.authentic, expected.status, expected.message)
    assert not bad.authentic
    document = {"type": ["VerifiableCredential"], "name": "x]]>y", "proof": {"proofValue": "z]]>1"}}
    face = baking.face_of(document)
    assert baking.unbake(baking.bake_svg(document, face)) == baking.unbake(baking.bake_png(document, face)) == document


def test_the_drawn_text_is_escaped_and_fits(tmp_path):
    face = baking.Face("level", "Collision Damage Analysis & Estimating 2021", "WHOLE LEVEL",
                       "A <b>bold</b> & \"quoted\" headline " + "Supercalifragilistic" * 4, "CDE",
                       "O'Brien & <Sons> Auto\x07 Body", "Title <&>")
    svg = baking.bake_svg("a.b.c", face)
    root = ET.fromstring(svg)
    words = [t.text for t in root.iter(f"{{{SVG}}}text")]
    assert "COLLISION DAMAGE ANALYSIS &" in words[0] and "O'Brien & <Sons> Auto Body" in words
    assert root.find(f"{{{SVG}}}title").text == "Title <&>"
    lines, _, _ = baking.layout(face)
    assert all(baking._width(v.text, v.size, v.bold, v.spacing) <= 400 for v in lines)  # the long word was cut
    assert sum(1 for v in lines if v.size >= 23 and v.bold and v.fill == baking.INK) <= 3
    assert Image.open(io.BytesIO(baking.bake_png("a.b.c", face))).size == (600, 600)


def test_the_cli_verifies_baked_badges(cli, clean_db, earned, tmp_path):  # noqa: F811
    cred, _ = earned
    face = baking.face_of(credentials.payload_of(cred.token))
    (tmp_path / "badge.png").write_bytes(baking.bake_png(cred.token, face))
    (tmp_path / "badge.svg").write_bytes(baking.bake_svg(flip(cred.token), face))
    (tmp_path / "big.png").write_bytes(b"\0" * (verify.MAX_FILE_BYTES + 1))
    assert "AUTHENTIC (credential, current)" in cli("verify", str(tmp_path / "badge.png"))
    assert "NOT AUTHENTIC (credential, invalid)" in cli("verify", str(tmp_path / "badge.svg"), code=1)
    assert "larger than 8 MB" in cli("verify", str(tmp_path / "big.png"), code=2)
    assert sys.version_info >= (3, 11)
