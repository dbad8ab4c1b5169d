"""PDFs from HTML templates in `templates/pdf/`, drawn by xhtml2pdf.

Buyer data reaches these templates, so they are autoescaped like every page, and xhtml2pdf may read
nothing but the app's own static files: the link callback maps `/static/...` to files under
`seller/static`, lets inline `data:` images through and refuses every other address, and the resource
policy (xhtml2pdf's server preset, network off, reads confined to `seller/static`) stands behind it for
the paths that skip the callback.
"""
import base64
import functools
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from flask import render_template
from flask_babel import force_locale
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from xhtml2pdf import default, pisa
from xhtml2pdf.config.resources import ResourceAccessError, ResourceAccessPolicy

STATIC = (Path(__file__).parent / "static").resolve()
POLICY = ResourceAccessPolicy.server(base_dir=STATIC, allow_remote=False)
QUIET = 10  # modules of white either side of a barcode
# The font of every PDF (static/fonts/NOTICE): Latin, accented Latin and Chinese in one face, regular only.
FONT_FAMILY, FONT_FILE = "WenQuanYi Micro Hei", STATIC / "fonts" / "wqy-microhei.ttc"


class PDFError(RuntimeError):
    """xhtml2pdf reported errors: the document would be wrong, so there is none."""


def static_file(uri: str, _base: str | None = None) -> str | None:
    """xhtml2pdf's link callback: `/static/x` -> the absolute path of seller/static/x; `data:` stays inline;
    anything else is refused."""
    if uri.startswith("data:"):
        return None
    if uri.startswith("/static/"):
        path = (STATIC / uri.removeprefix("/static/")).resolve()
        if path.is_relative_to(STATIC) and path.is_file():
            return str(path)
    raise ResourceAccessError(f"only files under /static/ may be read, not {uri[:120]!r}")


@dataclass(frozen=True)
class Barcode:
    src: str  # a data: URI of a PNG one pixel high, one pixel a module
    modules: int  # its width, quiet zones included: the template sizes it (modules x module width)


def code128(value: str) -> Barcode | None:
    """`value` as a Code128 barcode image, or None when Code128 cannot carry it (empty, or beyond ASCII).

    An image rather than xhtml2pdf's <pdf:barcode>, which builds a reportlab drawing of a hundred shapes
    and took half the time of a whole slip; a one-row image scaled without smoothing prints the same bars."""
    code = Code128(value)
    code.validate()
    if not value or not code.valid:
        return None
    code.encode()
    code.decompose()
    row = bytearray(b"\xff" * QUIET)
    for c in code.decomposed:  # upper case: a bar, lower case: a space; the letter is its width (a=1)
        row += (b"\x00" if c.isupper() else b"\xff") * (ord(c.lower()) - ord("a") + 1)
    row += b"\xff" * QUIET
    return Barcode("data:image/png;base64," + base64.b64encode(_png_row(bytes(row))).decode(), len(row))


def _png_row(pixels: bytes) -> bytes:
    """A PNG of one row of 8-bit grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", len(pixels), 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" + pixels))
            + chunk(b"IEND", b""))


@functools.cache
def register_fonts() -> None:
    """Parse the font once a process and let CSS name it (`font-family: "WenQuanYi Micro Hei"`).

    Not @font-face: xhtml2pdf would re-read and hash the 5 MB file for every document, about a third of the
    time of a one-slip PDF. Bold and italic map to the same face, which has no others."""
    name = FONT_FAMILY.replace(" ", "")
    pdfmetrics.registerFont(TTFont(name, str(FONT_FILE), subfontIndex=0))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(name, bold, italic, name)
    default.DEFAULT_FONT[FONT_FAMILY.lower()] = name


def render_pdf(template_name: str, **context) -> bytes:
    """Render `templates/<template_name>` (which may call `code128`) to PDF bytes; PDFError if xhtml2pdf reports
    errors."""
    register_fonts()
    with force_locale("en"):  # packing slips and pick lists are for US buyers and carriers: always English
        html = render_template(template_name, code128=code128, **context)
    out = io.BytesIO()
    # capacity=-1: the source stays in memory (above 100 KB xhtml2pdf spills it to a temp file it never closes).
    status = pisa.pisaDocument(html, dest=out, link_callback=static_file, resource_policy=POLICY, capacity=-1)
    if status.err:
        messages = [msg for mode, _line, msg, _frag in status.log if mode == "error"]
        raise PDFError(f"{template_name}: {status.err} error(s): {'; '.join(messages)[:500]}")
    return out.getvalue()
