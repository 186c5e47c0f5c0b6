"""Evidence attached to a sign-off: VIN, repair-order number and a photo.

Everything here is a plain function over untrusted input; bad input raises FormError with a
message a technician can act on. Photos follow OWASP ASVS V5 (uploads): size limit, type checked
by content, re-encoded, server-chosen file names.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from uuid import uuid4

from PIL import Image, ImageOps

from mentoring.errors import FormError

__all__ = [
    "MAX_DECODED_PIXELS",
    "MAX_PHOTO_BYTES",
    "MAX_PIXELS",
    "THUMB_SIZE",
    "DecodeGate",
    "Evidence",
    "PhotoBusy",
    "StoredPhoto",
    "delete_photo",
    "normalize_ro",
    "normalize_vin",
    "park_photo",
    "store_photo",
    "unpark_photo",
]

# --- VIN -------------------------------------------------------------------------------------

_VIN_CHARS = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
# ISO 3779 / 49 CFR 565.15: letters are transliterated to numbers, each position weighted,
# and the sum mod 11 is the 9th character (10 is written 'X').
_VIN_VALUES = {str(d): d for d in range(10)} | dict(
    zip("ABCDEFGH" + "JKLMN" + "P" + "R" + "STUVWXYZ", [*range(1, 9), *range(1, 6), 7, 9, *range(2, 10)], strict=True)
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# The check digit is mandatory for North American VINs (WMI region 1-5). Elsewhere it is optional
# (European VINs often carry a 'Z' filler there), so checking it would refuse real vehicles.
_CHECK_DIGIT_REGIONS = frozenset("12345")


def _vin_check_digit(vin: str) -> str:
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_vin(raw: str) -> str:
    """Return the VIN in canonical form (upper case, no spaces or dashes), or "" when none is given."""
    vin = "".join(raw.split()).replace("-", "").upper()
    if not vin:
        return ""  # the VIN is optional on a sign-off
    if any(ch in "IOQ" for ch in vin):
        # Told apart from the generic message because it is the usual misreading of 1 and 0.
        raise FormError({"vin": "A VIN never contains the letters I, O or Q; check for the digits 1 and 0."})
    if any(ch not in _VIN_CHARS for ch in vin):
        raise FormError({"vin": "A VIN contains only the letters A-Z and the digits 0-9."})
    if len(vin) != 17:
        raise FormError({"vin": f"A VIN has 17 characters; this one has {len(vin)}."})
    if vin[0] in _CHECK_DIGIT_REGIONS:
        expected = _vin_check_digit(vin)
        if vin[8] != expected:
            raise FormError(
                {
                    "vin": f"The check digit (9th character) should be {expected} for this VIN; "
                    "please re-read the VIN plate."
                }
            )
    return vin


# --- Repair-order number ---------------------------------------------------------------------

_RO_MAX = 30
_RO_PATTERN = re.compile(r"[A-Za-z0-9/-]+")


def normalize_ro(raw: str) -> str:
    """Return the trimmed repair-order number, or "" when none is given."""
    ro = raw.strip()
    if not ro:
        return ""  # the RO number is optional on a sign-off
    if len(ro) > _RO_MAX:
        raise FormError({"ro_number": f"A repair-order number can be at most {_RO_MAX} characters."})
    # fullmatch with an ASCII class: no spaces, no look-alike Unicode digits.
    if not _RO_PATTERN.fullmatch(ro):
        raise FormError({"ro_number": "A repair-order number may contain only letters, digits, '-' and '/'."})
    return ro


# --- Photos ----------------------------------------------------------------------------------

MAX_PHOTO_BYTES = 8 * 1024 * 1024
# The header may claim this many pixels. Phone cameras save 12 MP by default and 48-50 MP in their
# full-resolution modes (8160 x 6120 = 49.9 MP); their baseline JPEGs are decoded at 1/2, 1/4 or 1/8
# scale (below), so even those never exist in memory at full size. 108 and 200 MP modes give files
# over MAX_PHOTO_BYTES anyway.
MAX_PIXELS = 50_000_000
# The most pixels ever held decoded, and so the most a stored photo has: a 12 MP phone photo
# (4032 x 3024) is kept at full size, a 48 MP one at half its width and height. At 4 bytes a pixel
# that is 64 MB; one decode with its encoders peaked at 130 MB (a 16 MP PNG with transparency) and
# 55 MB (a 48 MP JPEG). DecodeGate bounds how many run at once.
MAX_DECODED_PIXELS = 16_000_000
THUMB_SIZE = (320, 320)

_NOT_A_PHOTO = "Only JPEG or PNG photos can be attached; this file is not one."
_BUSY = "The server is busy with other photos right now; nothing was saved. Please send it again in a minute."


@dataclass(frozen=True)
class StoredPhoto:
    stored_name: str
    thumb_name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Evidence:
    """What a signer attaches to a sign-off, each part optional. signoffs.sign_off checks the texts and records
    the photo's row with the event, its hash inside the event's, in the same transaction.

    The photo comes already checked and stored (store_photo): decoding it takes far longer than signing, so it
    happens before sign_off takes the assignment's lock, and only for callers allowed to sign there."""

    note: str = ""
    ro_number: str = ""
    vin: str = ""
    photo: StoredPhoto | None = None


class PhotoBusy(FormError):
    """No decode slot came free in time; the caller answers 503 so the client tries again later."""

    retry_after = 30  # seconds, for the Retry-After header


class DecodeGate:
    """How many photos the process decodes at once, and how long a request waits for its turn.

    Decoding is what costs memory, so at most `slots` decodes run together whatever the number of
    uploads. A request that waits longer than `wait_seconds` is refused (PhotoBusy, 503) instead of
    holding a worker thread: queued uploads would otherwise take every thread and stall all pages.
    The decodes run on `slots` threads of their own: the C allocator keeps freed memory per thread
    (arena), so decodes spread over the server's 32 worker threads left up to 32 arenas each holding a
    decode's worth of memory."""

    def __init__(self, slots: int, wait_seconds: float):
        self.slots, self.wait_seconds = slots, wait_seconds
        self._free = threading.BoundedSemaphore(slots)
        self._threads = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="photo-decode")

    @contextmanager
    def turn(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self.wait_seconds):
            raise PhotoBusy({"photo": _BUSY})
        try:
            yield
        finally:
            self._free.release()

    def run(self, fn, *args):
        """fn(*args) on a decode thread, once a slot is free."""
        with self.turn():
            return self._threads.submit(fn, *args).result()


def _run_here(fn, *args):
    return fn(*args)


def _too_many_pixels(limit: int | None = None) -> FormError:
    limit = limit or MAX_PIXELS
    return FormError(
        {"photo": f"This photo has more than {limit // 1_000_000} megapixels; please attach a smaller one."}
    )


def _flatten_to_rgb(img: Image.Image) -> Image.Image:
    # JPEG has no transparency: put transparent areas on white rather than on black.
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def _reduce_on_load(img: Image.Image) -> None:
    """Check the header's size, and have a JPEG decoded at the smallest DCT scale that fits the budget.

    libjpeg decodes a baseline JPEG at 1/2, 1/4 or 1/8 scale without ever holding the full image. PNG
    has no such mode, and a progressive JPEG keeps all its coefficients (6 bytes a pixel) whatever the
    scale, so those must fit the decoded budget as they are."""
    pixels = img.width * img.height
    if pixels > MAX_PIXELS:
        raise _too_many_pixels()
    if img.format == "PNG" or img.info.get("progressive"):
        if pixels > MAX_DECODED_PIXELS:
            raise _too_many_pixels(MAX_DECODED_PIXELS)
        return
    scale = next(s for s in (1, 2, 4, 8) if -(-img.width // s) * -(-img.height // s) <= MAX_DECODED_PIXELS)
    if scale > 1:
        img.draft(img.mode, (img.width // scale, img.height // scale))


def _thumb_size(size: tuple[int, int]) -> tuple[int, int]:
    """Within THUMB_SIZE, aspect kept, never enlarged."""
    ratio = min(1.0, THUMB_SIZE[0] / size[0], THUMB_SIZE[1] / size[1])
    return max(1, round(size[0] * ratio)), max(1, round(size[1] * ratio))


def _reencode(file: BinaryIO, run=_run_here) -> tuple[bytes, str, bytes]:
    """Decode the untrusted file and encode it afresh: (photo bytes, extension, JPEG thumbnail bytes).

    Only the header is read here; the pixels are decoded by `run` (DecodeGate.run, once a slot is free)."""
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; make the warning a refusal too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # formats=: only the JPEG and PNG parsers ever see the bytes, whatever the file is called.
        with Image.open(file, formats=["JPEG", "PNG"]) as img:
            # MPO is a JPEG with extra frames (many phone cameras write it); we keep the first frame.
            if img.format not in ("JPEG", "MPO", "PNG"):
                raise FormError({"photo": _NOT_A_PHOTO})
            # The header gives the size; refuse or scale down before any pixel is decoded.
            _reduce_on_load(img)
            return run(_decode_and_encode, img)


def _decode_and_encode(img: Image.Image) -> tuple[bytes, str, bytes]:
    is_png = img.format == "PNG"
    # Turn the photo upright as the camera meant it, since the EXIF orientation goes below.
    # In place: a copy would double what the decode holds.
    ImageOps.exif_transpose(img, in_place=True)
    # Saving without exif=/icc_profile=/pnginfo= writes no metadata (GPS, camera serial, time);
    # clear info so the PNG writer cannot copy any across either, but keep PNG transparency.
    transparency = img.info.get("transparency")
    img.info = {} if transparency is None else {"transparency": transparency}

    out = BytesIO()
    if is_png:
        # Not optimize=True: it held a decode slot 1.6 times as long for a 16 MP PNG, for no smaller file.
        img.save(out, "PNG")
    else:
        (img if img.mode in ("RGB", "L") else img.convert("RGB")).save(out, "JPEG", quality=85)

    # Shrink first, then flatten: only the small image is converted. Palette images are resized as full
    # colour (resizing a palette image would pick the nearest pixel only).
    source = img if img.mode in ("RGB", "RGBA", "L", "LA", "CMYK") else img.convert(
        "RGBA" if transparency is not None else "RGB")
    thumb = _flatten_to_rgb(source.resize(_thumb_size(source.size), Image.Resampling.LANCZOS, reducing_gap=3.0))
    thumb_out = BytesIO()
    thumb.save(thumb_out, "JPEG", quality=85)
    return out.getvalue(), ".png" if is_png else ".jpg", thumb_out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    # Temp file in the same folder, then rename: readers and crashes see the whole file or none.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_photo(upload: bytes | BinaryIO, folder: Path, *, gate: DecodeGate | None = None) -> StoredPhoto:
    """Check, clean and store an uploaded photo plus its thumbnail under server-chosen names.

    `upload` may be the request's spooled upload file: it is then read while being decoded, never held whole
    by a request that waits for its turn. The server passes its DecodeGate; without one (the CLI, one photo at
    a time) decodes are not limited."""
    file = BytesIO(upload) if isinstance(upload, bytes) else upload
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    limit_mb = f"{MAX_PHOTO_BYTES / (1024 * 1024):g}"
    if not size:
        raise FormError({"photo": "The photo file is empty; please take or choose the photo again."})
    if size > MAX_PHOTO_BYTES:
        raise FormError({"photo": f"A photo can be at most {limit_mb} MB; this one is {size / (1024 * 1024):.1f} MB."})

    try:
        photo, ext, thumb = _reencode(file, gate.run if gate else _run_here)
    except FormError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except Exception:
        # Pillow's parsers raise OSError, SyntaxError, ValueError, but also struct.error, EOFError,
        # IndexError... on hostile files (its own fuzzers catch Exception for that reason). _reencode
        # touches only the uploaded file, so any failure there means "not a usable photo".
        raise FormError({"photo": _NOT_A_PHOTO}) from None

    # Nothing of the client's file name is used: a random name cannot collide or traverse paths.
    stem = uuid4().hex
    stored = StoredPhoto(
        stored_name=stem + ext,
        thumb_name=stem + "-thumb.jpg",
        content_type="image/png" if ext == ".png" else "image/jpeg",
        size=len(photo),
        sha256=hashlib.sha256(photo).hexdigest(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / stored.stored_name, photo)
    try:
        _write_atomically(folder / stored.thumb_name, thumb)
    except BaseException:
        (folder / stored.stored_name).unlink(missing_ok=True)
        raise
    return stored


def delete_photo(folder: Path, photo: StoredPhoto) -> None:
    """Remove a stored photo and its thumbnail, e.g. when the sign-off's transaction rolled back."""
    for name in (photo.stored_name, photo.thumb_name):
        (folder / name).unlink(missing_ok=True)


# --- Photos kept while a refused sign-off is corrected ---------------------------------------------
# A sign-off refused for a wrong VIN or PIN keeps its photo, so that the mentor on the shop floor does not
# have to take it again: the files wait in a folder of their own, and go back beside the stored photos
# when the corrected form is sent. Nothing else reads that folder; what nobody comes back for is deleted.

PARKED_HOURS = 1
_NAME = re.compile(r"[0-9a-f]{32}(\.jpg|\.png|-thumb\.jpg)")


def _parked(folder: Path) -> Path:
    return folder / "parked"


def park_photo(folder: Path, photo: StoredPhoto, *, now: float | None = None) -> None:
    """Set a stored photo aside until its sign-off is sent again; clear out ones left longer than PARKED_HOURS."""
    parked = _parked(folder)
    parked.mkdir(parents=True, exist_ok=True)
    for name in (photo.stored_name, photo.thumb_name):
        os.replace(folder / name, parked / name)
    cutoff = (now if now is not None else time.time()) - PARKED_HOURS * 3600
    for old in parked.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except FileNotFoundError:  # another request cleared it first
            pass


def unpark_photo(folder: Path, photo: StoredPhoto) -> bool:
    """Put a parked photo back beside the stored ones; False when it is gone (cleared out, or used already)."""
    names = (photo.stored_name, photo.thumb_name)
    if not all(_NAME.fullmatch(name) for name in names):
        return False
    parked = _parked(folder)
    try:
        os.replace(parked / photo.stored_name, folder / photo.stored_name)
    except FileNotFoundError:
        return False
    try:
        os.replace(parked / photo.thumb_name, folder / photo.thumb_name)
    except FileNotFoundError:
        (folder / photo.stored_name).unlink(missing_ok=True)
        return False
    return True


# The re-rendered form names a kept photo by a ticket the server signs: it holds the stored photo's
# server-chosen names and hash, and is good only for its owner (the caller's digest of who signs, in which
# sign-in, for which task) for half the time the file is kept.
KEEP_SECONDS = PARKED_HOURS * 3600 // 2
PHOTO_GONE = "The photo from your first try is no longer kept; please attach it again."


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def keep_photo(folder: Path, photo: StoredPhoto, *, secret: str, owner: str) -> str:
    """Park a refused sign-off's photo and return the ticket that brings it back."""
    park_photo(folder, photo)
    payload = base64.urlsafe_b64encode(json.dumps({
        "photo": asdict(photo), "owner": hashlib.sha256(owner.encode()).hexdigest(),
        "until": int(time.time()) + KEEP_SECONDS}).encode()).decode()
    return f"{payload}.{_mac(secret, payload)}"


def kept_photo(folder: Path, ticket: str, *, secret: str, owner: str) -> StoredPhoto:
    """The photo a ticket names, back beside the stored ones; a FormError when it cannot be used any more."""
    payload, _, mac = ticket.partition(".")
    try:
        if not hmac.compare_digest(mac, _mac(secret, payload)):
            raise ValueError
        kept = json.loads(base64.urlsafe_b64decode(payload))
        photo = StoredPhoto(**kept["photo"])
        usable = (kept["owner"] == hashlib.sha256(owner.encode()).hexdigest() and kept["until"] >= time.time()
                  and unpark_photo(folder, photo))
    except (ValueError, TypeError, KeyError):
        usable = False
    if not usable:
        raise FormError({"photo": PHOTO_GONE})
    return photo
