"""Baked badges: an image the project draws, with the credential inside it (Open Badges 3.0, 5.3 "Baked Badge").

PNG: one uncompressed iTXt chunk with keyword `openbadgecredential`; its text is the compact JWS of a VC-JWT, or
the JSON of a credential with an embedded proof. SVG: the `openbadges` namespace on the root and, directly after
the <svg> tag, one <openbadges:credential> element: with the JWS in its `verify` attribute, or the JSON in CDATA.

Reading a baked image never decodes pixels or decompresses anything: the PNG is walked chunk by chunk and the SVG
is parsed with expat, refusing any DOCTYPE (so no entities, external or expanding)."""

import io
import json
import re
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from exports import credentials
from exports.models import IssuedCredential
from mentoring.errors import NotFound

KEYWORD = "openbadgecredential"
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# An area or level credential is tens of kilobytes and the drawing about as much; anything near this is not ours.
MAX_IMAGE_BYTES = 4 * 1024 * 1024
SIZE = 600  # the badge is square; the PNG is drawn at twice this and scaled down for smooth edges
FONTS = Path(__file__).parent / "fonts"
FONT_FAMILY = "'DejaVu Sans', Verdana, 'Helvetica Neue', Arial, sans-serif"  # DejaVu's widths are Verdana's
ASE_PREFIX = "ASE Education Foundation "
OUR_ACHIEVEMENTS = "urn:x-workplace-mentoring:achievement:"


class BakingError(ValueError):
    """The file is not a baked badge this project can read; the message says why, for the person verifying."""


# --- what the badge says -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Face:
    kind: str  # area | level
    program: str  # e.g. "Automobile Service 2024"
    eyebrow: str  # e.g. "AREA VIII" or "WHOLE LEVEL"
    headline: str  # the area's title, or what the level means
    level: str  # e.g. MLR
    shop: str
    title: str  # the credential's own name, for the image's accessible title


def face_of(credential: dict, fallback_name: str = "") -> Face:
    """What the image shows, read from the credential itself, so the picture never says more than what is signed."""
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    achievement = achievement if isinstance(achievement, dict) else {}
    alignments = [a for a in achievement.get("alignment") or [] if isinstance(a, dict)]
    framework = str(alignments[0].get("targetFramework", "")) if alignments else ""
    program = framework.removeprefix(ASE_PREFIX) or "Workplace mentoring"
    parts = str(achievement.get("id", "")).removeprefix(OUR_ACHIEVEMENTS).split(":")
    level = parts[2] if str(achievement.get("id", "")).startswith(OUR_ACHIEVEMENTS) and len(parts) > 2 else ""
    issuer = credential.get("issuer")
    shop = str(issuer.get("name", "")) if isinstance(issuer, dict) else ""
    name = str(credential.get("name") or fallback_name)
    # Our achievement ids end in ":area:<code>" or ":level"; the area's title is on its alignment.
    code = parts[parts.index("area") + 1] if "area" in parts[:-1] else ""
    if code:
        area = next((a for a in alignments if a.get("targetCode") == code), {})
        return Face("area", program, f"AREA {code}", str(area.get("targetName", "")), level, shop, name)
    if level:
        return Face("level", program, "WHOLE LEVEL", "All areas complete", level, shop, name)
    return Face("area", program, "", str(achievement.get("name") or name or "Open Badge"), level, shop, name)


# --- layout, shared by both images ----------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    text: str
    y: float  # baseline, in badge units (0..SIZE)
    size: float
    bold: bool
    fill: str
    spacing: float = 0  # extra letter spacing, in badge units


ACCENT = {"area": "#1d4e89", "level": "#7a4f01"}  # both keep white text above 7:1
INK, MUTED, PAPER = "#1b1f24", "#4a525c", "#ffffff"
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    path = FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def _width(text: str, size: float, bold: bool, spacing: float = 0) -> float:
    return _font(bold, round(size * 4)).getlength(text) / 4 + spacing * max(len(text) - 1, 0)


def _wrap(text: str, size: float, bold: bool, width: float, max_lines: int) -> list[str]:
    """Greedy wrap by measured width; a word too long for a line is cut, and the last line ends in an ellipsis."""
    lines: list[str] = []
    for word in text.split():
        while _width(word, size, bold) > width:  # one very long word: break it where it overflows
            cut = max(1, len(word) - 1)
            while cut > 1 and _width(word[:cut], size, bold) > width:
                cut -= 1
            lines, word = _add(lines, word[:cut], size, bold, width), word[cut:]
        lines = _add(lines, word, size, bold, width)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _width(last + "…", size, bold) > width:
            last = last[:-1].rstrip()
        lines = lines[:max_lines - 1] + [last + "…"]
    return lines or [""]


def _add(lines: list[str], word: str, size: float, bold: bool, width: float) -> list[str]:
    if lines and _width(f"{lines[-1]} {word}", size, bold) <= width:
        return lines[:-1] + [f"{lines[-1]} {word}"]
    return lines + [word]


def _fit(text: str, sizes: tuple[float, ...], bold: bool, width: float, max_lines: int) -> tuple[float, list[str]]:
    """The largest size at which the text fits in max_lines, or the smallest size, cut."""
    for size in sizes:
        lines = _wrap(text, size, bold, width, 99)
        if len(lines) <= max_lines:
            return size, lines
    return sizes[-1], _wrap(text, sizes[-1], bold, width, max_lines)


def _clean(text: str) -> str:
    return " ".join(_XML_UNSAFE.sub("", text).split())


def layout(face: Face) -> tuple[list[Line], tuple[float, float, float, float], str]:
    """The text lines, the level pill's box (x0, y0, x1, y1) and its label, inside a disc of radius 0.42*SIZE."""
    accent = ACCENT.get(face.kind, ACCENT["area"])
    lines: list[Line] = []
    program = _wrap(_clean(face.program).upper(), 17, True, 330, 2)
    y = 0.0
    for text in program:
        lines.append(Line(text, y, 17, True, accent, 1.2))
        y += 22
    y += 34
    size, head = _fit(_clean(face.headline), (38, 34, 30, 26, 23), True, 400, 3)
    if face.eyebrow:
        lines.append(Line(_clean(face.eyebrow).upper(), y, 18, False, MUTED, 2.0))
        y += 20 + size * 0.9
    for text in head:
        lines.append(Line(text, y, size, True, INK))
        y += size * 1.2
    label = _clean(face.level)
    pill = (0.0, 0.0, 0.0, 0.0)
    if label:
        pill_w = _width(label, 22, True, 1.5) + 44
        pill = (SIZE / 2 - pill_w / 2, y - 2, SIZE / 2 + pill_w / 2, y + 38)
        lines.append(Line(label, y + 26, 22, True, PAPER, 1.5))
        y += 72
    else:
        y += 16
    for text in _wrap(_clean(face.shop), 19, False, 320, 2):
        lines.append(Line(text, y, 19, False, MUTED))
        y += 25
    # Centre the block in the disc: from the cap height of the first line to the last baseline.
    shift = SIZE / 2 - (lines[-1].y + lines[0].y - lines[0].size * 0.73) / 2
    lines = [Line(v.text, v.y + shift, v.size, v.bold, v.fill, v.spacing) for v in lines]
    if label:
        pill = (pill[0], pill[1] + shift, pill[2], pill[3] + shift)
    return lines, pill, label


# --- drawing and baking ---------------------------------------------------------------------------------

def _credential_text(credential: str | dict) -> tuple[str, bool]:
    """The text to bake and whether it is JSON. A JSON credential given as text is baked exactly as stored, so the
    image holds the very file a wallet would."""
    if isinstance(credential, dict):
        return json.dumps(credential, ensure_ascii=False, separators=(",", ":")), True
    if credential.lstrip().startswith("{"):
        return credential.strip(), True
    token = "".join(credential.split())
    if token.count(".") != 2:
        raise ValueError("a VC-JWT is three dot-separated parts")
    return token, False


def bake_png(credential: str | dict, face: Face) -> bytes:
    lines, pill, _ = layout(face)
    accent = ACCENT.get(face.kind, ACCENT["area"])
    k = 2  # draw at twice the size, then scale down: Pillow draws shapes without anti-aliasing
    image = Image.new("RGBA", (SIZE * k, SIZE * k), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c, r = SIZE * k / 2, SIZE * k * 0.48
    draw.ellipse((c - r, c - r, c + r, c + r), fill=accent)
    inner = SIZE * k * 0.42
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), fill=PAPER)
    ring = inner - 10 * k
    draw.ellipse((c - ring, c - ring, c + ring, c + ring), outline=accent, width=2 * k)
    if pill[2] > pill[0]:
        draw.rounded_rectangle(tuple(v * k for v in pill), radius=20 * k, fill=accent)
    for line in lines:
        font = _font(line.bold, round(line.size * k))
        x = c - _width(line.text, line.size, line.bold, line.spacing) * k / 2
        if not line.spacing:
            draw.text((x, line.y * k), line.text, font=font, fill=line.fill, anchor="ls")
            continue
        for ch in line.text:  # Pillow has no letter spacing: place each letter
            draw.text((x, line.y * k), ch, font=font, fill=line.fill, anchor="ls")
            x += font.getlength(ch) + line.spacing * k
    image = image.reduce(k)  # a box filter over each k×k block: the anti-aliasing
    info = PngInfo()
    info.add_itxt(KEYWORD, _credential_text(credential)[0], lang="", tkey="", zip=False)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def bake_svg(credential: str | dict, face: Face) -> bytes:
    lines, pill, _ = layout(face)
    accent = ACCENT.get(face.kind, ACCENT["area"])
    text, is_json = _credential_text(credential)
    if is_json:
        # "]]>" cannot stand inside CDATA: close the section and open a new one around it.
        cdata = text.replace("]]>", "]]]]><![CDATA[>")
        baked = f"<openbadges:credential><![CDATA[{cdata}]]></openbadges:credential>"
    else:
        baked = f"<openbadges:credential verify={quoteattr(text)}/>"
    c = SIZE / 2
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="{SVG_NAMESPACE}" xmlns:openbadges="{OB_NAMESPACE}" viewBox="0 0 {SIZE} {SIZE}" '
        f'width="{SIZE}" height="{SIZE}" role="img" aria-labelledby="badge-title">',
        baked,  # directly after the <svg> tag, as the specification asks
        f'<title id="badge-title">{escape(_clean(face.title))}</title>',
        f'<circle cx="{c}" cy="{c}" r="{SIZE * 0.48:g}" fill="{accent}"/>',
        f'<circle cx="{c}" cy="{c}" r="{SIZE * 0.42:g}" fill="{PAPER}"/>',
        f'<circle cx="{c}" cy="{c}" r="{SIZE * 0.42 - 10:g}" fill="none" stroke="{accent}" stroke-width="2"/>',
    ]
    if pill[2] > pill[0]:
        parts.append(f'<rect x="{pill[0]:.1f}" y="{pill[1]:.1f}" width="{pill[2] - pill[0]:.1f}" '
                     f'height="{pill[3] - pill[1]:.1f}" rx="20" fill="{accent}"/>')
    for line in lines:
        spacing = f' letter-spacing="{line.spacing:g}"' if line.spacing else ""
        weight = ' font-weight="bold"' if line.bold else ""
        # letter-spacing also follows the last letter in SVG; shift by half of it to stay centred
        x = c + line.spacing / 2
        parts.append(f'<text x="{x:g}" y="{line.y:.1f}" text-anchor="middle" font-family="{escape(FONT_FAMILY)}" '
                     f'font-size="{line.size:g}"{weight}{spacing} fill="{line.fill}">{escape(line.text)}</text>')
    parts.append("</svg>")
    return ("\n".join(parts) + "\n").encode()


MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


PROOFS = ("jwt", "di")  # the first is the default: the VC-JWT, which outside badge verifiers read from images


def badge_file(cred: IssuedCredential, image: str, proof: str = PROOFS[0]) -> tuple[bytes, str, str]:
    """The badge image (png | svg) of an issued credential with one proof form baked in, its media type and a name.

    A transcript is a CLR, not an OpenBadgeCredential, and baking is defined only for the latter: it has no badge.
    `proof` di bakes the JSON with its embedded Data Integrity proof, as stored."""
    di_json = cred.di_json  # the Data Integrity form; credentials issued before it existed have none
    if cred.kind == "transcript" or image not in MEDIA_TYPES or proof not in PROOFS or (proof == "di" and not di_json):
        raise NotFound
    credential = di_json if proof == "di" else cred.token
    try:
        signed = json.loads(credential) if proof == "di" else credentials.payload_of(credential)
    except (ValueError, IndexError):  # unreadable: draw the stored name rather than fail the download
        signed = {}
    face = face_of(signed if isinstance(signed, dict) else {}, cred.name)
    data = bake_png(credential, face) if image == "png" else bake_svg(credential, face)
    name = f"badge-{cred.achievement_key.replace(':', '-')}-{cred.uuid[:8]}{'-di' if proof == 'di' else ''}.{image}"
    return data, MEDIA_TYPES[image], name


# --- reading a baked image ----------------------------------------------------------------------------

def kind_of(data: bytes) -> str | None:
    """png | svg | None, from the content, never from a file name."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") and b"<svg" in data[:4096]:  # after an XML declaration or comments, if any
        return "svg"
    return None


def unbake(data: bytes) -> str | dict:
    """The credential baked into a PNG or SVG: the compact JWS as a string, or the JSON credential as a dict."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB; no badge issued here is.")
    kind = kind_of(data)
    if kind is None:
        raise BakingError("This is not a PNG or SVG badge image.")
    text = _from_png(data) if kind == "png" else _from_svg(data)
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise BakingError("The credential in the image is not valid JSON; it was damaged or changed.") from None
        if not isinstance(document, dict):
            raise BakingError("The credential in the image is not a JSON object.")
        return document
    return "".join(text.split())


def _from_png(data: bytes) -> str:
    at, end = len(PNG_SIGNATURE), len(data)
    older = False
    while at + 12 <= end:
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if length > end - at - 12:
            break
        body = data[at + 8:at + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0]:
            raise BakingError("The PNG is damaged: a chunk does not match its checksum.")
        if kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            if keyword == KEYWORD.encode():
                return _itxt_text(rest)
            older |= keyword == b"openbadges"
        elif kind == b"IEND":
            break
        at += 12 + length
    if older:
        raise BakingError("This image carries an Open Badges 2.0 assertion, not an Open Badges 3.0 credential.")
    raise BakingError("This PNG carries no Open Badges credential (no openbadgecredential chunk).")


def _itxt_text(rest: bytes) -> str:
    if len(rest) < 2:
        raise BakingError("The PNG's credential chunk is cut short.")
    if rest[0] != 0:  # Open Badges forbids compression; inflating it would also let a tiny file grow unbounded
        raise BakingError("The PNG's credential chunk is compressed, which Open Badges 3.0 does not allow.")
    _language, _, rest = rest[2:].partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        raise BakingError("The PNG's credential chunk is not UTF-8 text; it was damaged.") from None


class _Found(Exception):
    pass


def _from_svg(data: bytes) -> str:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    state: dict = {"inside": False, "text": [], "verify": None}

    def no_doctype(*_):
        raise BakingError("The SVG declares a DOCTYPE; badge images do not, and it is not read.")

    def start(name, attrs):
        if name == f"{OB_NAMESPACE} credential":
            state["inside"], state["verify"] = True, attrs.get("verify")

    def chars(text):
        if state["inside"]:
            state["text"].append(text)

    def end(name):
        if state["inside"] and name == f"{OB_NAMESPACE} credential":
            raise _Found  # the first one counts; the rest of the file need not be read

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.StartElementHandler, parser.CharacterDataHandler, parser.EndElementHandler = start, chars, end
    try:
        parser.Parse(data, True)
    except _Found:
        return state["verify"] if state["verify"] is not None else "".join(state["text"])
    except expat.ExpatError as exc:
        raise BakingError(f"The SVG is not well-formed XML ({expat.errors.messages[exc.code]}).") from None
    raise BakingError("This SVG carries no Open Badges 3.0 credential (no openbadges:credential element).")

