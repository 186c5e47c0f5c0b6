"""Sign-off evidence: VIN and RO checks, and photo uploads (type by content, re-encoded, no metadata)."""

import hashlib
import tempfile
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mentoring.errors import FormError
from mentoring.progress import evidence
from mentoring.progress.evidence import StoredPhoto, delete_photo, normalize_ro, normalize_vin, store_photo

# --- VIN -------------------------------------------------------------------------------------

# North American VINs with correct check digits. 1M8GDM9AXKP042788 is the common worked example
# (weighted sum 351, 351 mod 11 = 10, so the check digit is 'X'); 1HGCM82633A004352 is a Honda Accord.
VALID_NA_VINS = ["1M8GDM9AXKP042788", "1HGCM82633A004352", "11111111111111111"]


def vin_error(raw: str) -> str:
    with pytest.raises(FormError) as exc:
        normalize_vin(raw)
    assert set(exc.value.errors) == {"vin"}
    return exc.value.errors["vin"]


@pytest.mark.parametrize("vin", VALID_NA_VINS)
def test_a_valid_north_american_vin_is_accepted_unchanged(vin):
    assert normalize_vin(vin) == vin


def test_a_vin_typed_in_lower_case_with_dashes_and_spaces_is_normalized():
    assert normalize_vin("  1hgcm-8263-3a00 4352 ") == "1HGCM82633A004352"


def test_no_vin_is_allowed():
    assert normalize_vin("") == ""
    assert normalize_vin("   ") == ""


def test_a_wrong_check_digit_is_refused_naming_the_9th_character_and_the_right_value():
    message = vin_error("1HGCM82653A004352")  # 9th character 5 instead of 3
    assert "9th character" in message
    assert "should be 3" in message


def test_a_check_digit_of_ten_is_written_x():
    assert "should be X" in vin_error("1M8GDM9A1KP042788")


def test_a_vin_one_character_short_is_refused_saying_how_many_it_has():
    assert vin_error("1HGCM82633A00435") == "A VIN has 17 characters; this one has 16."


def test_a_vin_one_character_long_is_refused():
    assert "this one has 18" in vin_error("1HGCM82633A0043520")


@pytest.mark.parametrize("vin", ["1HGCM82633A00435O", "IHGCM82633A004352", "1HGCM82633Q004352", "1hgcm82633a00435o"])
def test_a_vin_with_i_o_or_q_is_refused(vin):
    assert "I, O or Q" in vin_error(vin)


def test_a_vin_with_punctuation_is_refused():
    assert "letters A-Z and the digits 0-9" in vin_error("1HGCM82633A00435.")


@pytest.mark.parametrize(
    "vin",
    [
        "WVWZZZ1JZXW000001",  # German VW: 'Z' filler where a North American VIN has its check digit
        "JHMCM56558C404453",  # built in Japan (WMI region J): the check digit is not enforced
    ],
)
def test_a_vin_from_outside_north_america_skips_the_check_digit(vin):
    assert normalize_vin(vin) == vin


_VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@given(st.sampled_from("12345"), st.text(_VIN_ALPHABET, min_size=15, max_size=15))
def test_exactly_one_check_digit_makes_a_north_american_vin_valid(region, rest):
    candidates = [region + rest[:7] + check + rest[7:] for check in "0123456789X"]
    accepted = []
    for vin in candidates:
        try:
            accepted.append(normalize_vin(vin))
        except FormError:
            pass
    assert len(accepted) == 1


@given(st.one_of(st.text(), st.text(_VIN_ALPHABET + "ioq -\t", min_size=14, max_size=20)))
def test_any_text_as_a_vin_gives_a_normalized_vin_or_a_form_error(raw):
    try:
        vin = normalize_vin(raw)
    except FormError as exc:
        assert set(exc.errors) == {"vin"}
        return
    assert vin == "" or len(vin) == 17
    assert normalize_vin(vin) == vin


# --- Repair-order number ---------------------------------------------------------------------


def test_a_repair_order_number_is_trimmed():
    assert normalize_ro("  RO-2024/0815 ") == "RO-2024/0815"


def test_no_repair_order_number_is_allowed():
    assert normalize_ro("  ") == ""


def test_a_repair_order_number_longer_than_30_characters_is_refused():
    assert normalize_ro("A" * 30) == "A" * 30
    with pytest.raises(FormError) as exc:
        normalize_ro("A" * 31)
    assert "at most 30" in exc.value.errors["ro_number"]


@pytest.mark.parametrize("ro", ["RO 123", "RO#123", "<b>1</b>", "١٢٣"])
def test_a_repair_order_number_with_other_characters_is_refused(ro):
    with pytest.raises(FormError) as exc:
        normalize_ro(ro)
    assert set(exc.value.errors) == {"ro_number"}


# --- Photos ----------------------------------------------------------------------------------

GPS_IFD = 0x8825  # 34853, GPSInfo
ORIENTATION = 0x0112


def jpeg_with_gps(size=(640, 480), orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[GPS_IFD] = {1: "N", 2: (41.0, 52.0, 30.0), 3: "W", 4: (87.0, 37.0, 50.0)}
    if orientation:
        exif[ORIENTATION] = orientation
    buf = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png_bytes(size=(500, 400), mode="RGBA") -> bytes:
    buf = BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def photo_error(data: bytes, folder: Path) -> str:
    with pytest.raises(FormError) as exc:
        store_photo(data, folder)
    assert set(exc.value.errors) == {"photo"}
    return exc.value.errors["photo"]


def test_the_test_jpeg_really_carries_gps_location():
    with Image.open(BytesIO(jpeg_with_gps())) as img:
        assert img.getexif().get_ifd(GPS_IFD)


def test_a_stored_jpeg_has_no_exif_and_no_gps_location(tmp_path):
    stored = store_photo(jpeg_with_gps(), tmp_path)
    path = tmp_path / stored.stored_name
    with Image.open(path) as img:
        assert img.format == "JPEG"
        assert img.size == (640, 480)
        assert "exif" not in img.info
        assert not img.getexif()
        assert not img.getexif().get_ifd(GPS_IFD)
    assert b"Exif" not in path.read_bytes()
    assert b"PhoneMaker" not in path.read_bytes()
    assert stored.content_type == "image/jpeg"


def test_a_photo_taken_sideways_is_stored_upright(tmp_path):
    # Orientation 6: the camera was turned; the viewer must rotate 90 degrees to show it upright.
    stored = store_photo(jpeg_with_gps(size=(640, 480), orientation=6), tmp_path)
    with Image.open(tmp_path / stored.stored_name) as img:
        assert img.size == (480, 640)


def test_a_png_stays_a_png(tmp_path):
    stored = store_photo(png_bytes(), tmp_path)
    assert stored.stored_name.endswith(".png")
    assert stored.content_type == "image/png"
    with Image.open(tmp_path / stored.stored_name) as img:
        assert img.format == "PNG"
        assert img.mode == "RGBA"
        assert not img.getexif()


def test_a_png_with_exif_loses_it(tmp_path):
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (41.0, 52.0, 30.0)}
    buf = BytesIO()
    Image.new("RGB", (50, 50)).save(buf, "PNG", exif=exif)
    stored = store_photo(buf.getvalue(), tmp_path)
    with Image.open(tmp_path / stored.stored_name) as img:
        assert "exif" not in img.info
        assert not img.getexif()


def test_a_phone_jpeg_with_extra_frames_mpo_is_accepted_as_jpeg(tmp_path):
    buf = BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (40, 30))])
    stored = store_photo(buf.getvalue(), tmp_path)
    assert stored.content_type == "image/jpeg"
    with Image.open(tmp_path / stored.stored_name) as img:
        assert img.format == "JPEG"


@pytest.mark.parametrize("data", [jpeg_with_gps(size=(2000, 1000)), png_bytes(size=(300, 900))])
def test_a_thumbnail_is_stored_as_jpeg_within_320_by_320(tmp_path, data):
    stored = store_photo(data, tmp_path)
    assert stored.thumb_name == stored.stored_name.rsplit(".", 1)[0] + "-thumb.jpg"
    with Image.open(tmp_path / stored.thumb_name) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.width <= 320 and thumb.height <= 320
        assert max(thumb.size) == 320  # scaled down, aspect ratio kept


def test_the_stored_name_is_chosen_by_the_server_and_size_and_hash_match_the_file(tmp_path):
    data = jpeg_with_gps()
    first = store_photo(data, tmp_path)
    second = store_photo(data, tmp_path)
    assert first.stored_name != second.stored_name
    for stored in (first, second):
        assert len(stored.stored_name) == 32 + len(".jpg")
        assert stored.stored_name[:32].isalnum()
        content = (tmp_path / stored.stored_name).read_bytes()
        assert stored.size == len(content)
        assert stored.sha256 == hashlib.sha256(content).hexdigest()
        assert content != data  # re-encoded, not the uploaded bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.stored_name, first.thumb_name, second.stored_name, second.thumb_name]
    )  # no temporary files left behind


def test_the_folder_is_created_when_missing(tmp_path):
    folder = tmp_path / "uploads" / "2026"
    stored = store_photo(png_bytes(), folder)
    assert (folder / stored.stored_name).is_file()


def test_deleting_a_photo_removes_it_and_its_thumbnail_and_tolerates_missing_files(tmp_path):
    stored = store_photo(jpeg_with_gps(), tmp_path)
    delete_photo(tmp_path, stored)
    assert list(tmp_path.iterdir()) == []
    delete_photo(tmp_path, stored)  # already gone: no error
    delete_photo(tmp_path, StoredPhoto("nope.jpg", "nope-thumb.jpg", "image/jpeg", 0, ""))


@pytest.mark.parametrize(
    "data",
    [
        b"hello",
        b"Oil change done, torque 80 ft-lb.\n" * 20,  # a .txt renamed to .jpg
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # JPEG magic bytes, then garbage
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # PNG signature, then garbage
        jpeg_with_gps()[:300],  # truncated upload
    ],
)
def test_a_file_that_is_not_a_jpeg_or_png_is_refused_and_nothing_is_stored(tmp_path, data):
    assert photo_error(data, tmp_path) == "Only JPEG or PNG photos can be attached; this file is not one."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_a_real_image_in_another_format_is_refused(tmp_path, fmt):
    buf = BytesIO()
    Image.new("RGB", (20, 20)).save(buf, fmt)
    assert "Only JPEG or PNG" in photo_error(buf.getvalue(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_is_refused(tmp_path):
    assert "empty" in photo_error(b"", tmp_path)


def test_a_photo_over_the_size_limit_is_refused_saying_the_limit_in_mb(tmp_path, monkeypatch):
    data = jpeg_with_gps()
    assert "at most 8 MB" in photo_error(b"\xff" * (8 * 1024 * 1024 + 1), tmp_path)
    monkeypatch.setattr(evidence, "MAX_PHOTO_BYTES", len(data) - 1)
    photo_error(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_photo_with_too_many_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_PIXELS", 100 * 100)
    assert store_photo(png_bytes(size=(100, 100)), tmp_path)
    for f in tmp_path.iterdir():
        f.unlink()
    assert "megapixels" in photo_error(png_bytes(size=(101, 100)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels; its pixel data is only 1x1."""
    small = png_bytes(size=(1, 1), mode="L")
    ihdr = bytearray(small[8:33])  # length, "IHDR", 13 bytes of data, CRC
    ihdr[8:16] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    ihdr[21:25] = zlib.crc32(bytes(ihdr[4:21])).to_bytes(4, "big")
    return small[:8] + bytes(ihdr) + small[33:]


@pytest.mark.parametrize(
    ("side", "limit"),
    [
        (4_500, 16),  # 20 MP: a PNG cannot be decoded at a reduced scale, so it must fit MAX_DECODED_PIXELS
        (7_500, 50),  # 56 MP: over MAX_PIXELS, under Pillow's own limit
        (10_000, 50),  # 100 MP: Pillow only warns; the warning is turned into a refusal
        (20_000, 50),  # 400 MP: Pillow raises DecompressionBombError
    ],
)
def test_a_decompression_bomb_header_is_refused_without_decoding(tmp_path, side, limit):
    # Had the pixels been decoded, the 1x1 data would give "not a photo" instead.
    assert f"more than {limit} megapixels" in photo_error(png_header_claiming(side, side), tmp_path)
    assert list(tmp_path.iterdir()) == []


def _small_photos() -> list[bytes]:
    jpeg, png = BytesIO(), BytesIO()
    Image.new("RGB", (16, 12), "blue").save(jpeg, "JPEG")
    Image.new("P", (16, 12)).save(png, "PNG")
    return [jpeg.getvalue(), png.getvalue()]


@st.composite
def damaged_photos(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(_small_photos())))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


_MAGIC = st.sampled_from([b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n", b"GIF89a"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2048), st.builds(lambda m, b: m + b, _MAGIC, st.binary(max_size=512)), damaged_photos()
    )
)
def test_any_bytes_as_a_photo_are_stored_or_refused_with_a_form_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            stored = store_photo(data, folder)
        except FormError as exc:
            assert set(exc.errors) == {"photo"}
            assert list(folder.iterdir()) == []
        else:
            assert sorted(p.name for p in folder.iterdir()) == sorted([stored.stored_name, stored.thumb_name])
