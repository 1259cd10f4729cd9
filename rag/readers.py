"""Read one file's bytes into text plus the metadata its format carries.

Each format is read by a maintained library: ``charset-normalizer`` for text in
any encoding, ``trafilatura`` (with ``htmldate``) for HTML, ``pypdf`` for PDF.
A reader returns ``Extracted`` or raises ``Unreadable`` with a reason a person
can act on. The text returned is the text we store: every offset points into it.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
# Bumped whenever a reader's output changes, so stored extractions are made again.
READER_VERSION = 1

BOMS = (  # longest first: a UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf_32"),
    (codecs.BOM_UTF32_BE, "utf_32"),
    (codecs.BOM_UTF8, "utf_8_sig"),
    (codecs.BOM_UTF16_LE, "utf_16"),
    (codecs.BOM_UTF16_BE, "utf_16"),
)
# charset-normalizer lists every encoding that gives the same text; the common one is named
COMMON_ENCODINGS = ("utf_8", "cp1252", "latin_1", "iso8859_15", "utf_16", "utf_32")
MAX_CONTROL_SHARE = 0.01  # more control characters than this and it is not text (1% of a news page is a lot)
PAGE_BREAK = "\n\n"  # between PDF pages in the stored text
# A PDF line at least this share of the page's longest line was wrapped by the printer: wrapped
# lines of Chromium-printed A4 pages measured 0.91-1.0, a seed headline printed wide 0.76.
WRAPPED = 0.85
SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
SAVED_FROM = re.compile(rb"<!-- saved from url=\(\d+\)(\S+?) -->")  # Chrome's "Save page as" stamp
_MONTHS = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)


class Unreadable(ValueError):
    """The file cannot be read as an article; the message says why."""


@dataclass(frozen=True)
class Extracted:
    text: str
    format: str  # "text", "html" or "pdf"
    encoding: str | None = None
    title: str | None = None
    published: date | None = None
    outlet: str | None = None
    author: str | None = None
    pages: tuple[int, ...] = field(default_factory=tuple)  # PDF: start offset of each page in ``text``


def read(suffix: str, data: bytes) -> Extracted:
    """The article in ``data`` read by the reader for ``suffix`` (``".pdf"``, ``".html"``, ...)."""
    suffix = suffix.lower()
    if suffix in HTML_SUFFIXES:
        return read_html(data)
    if suffix in PDF_SUFFIXES:
        return read_pdf(data)
    if suffix in TEXT_SUFFIXES:
        text, encoding = decode_text(data)
        return Extracted(text, "text", encoding)
    raise Unreadable(f"unsupported format {suffix or '(no suffix)'}: use .txt, .md, .html, .htm or .pdf")


# -- text ---------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a text file in any encoding; a leading BOM is not part of the text.

    ``"café".encode("latin-1")`` -> ``("café", "cp1252")``; UTF-16 with a BOM -> ``"utf_16"``.
    UTF-8 is tried first, then charset-normalizer; UTF-16/32 need their byte-order mark.
    Raises ``Unreadable`` for binary data, empty files and bytes no encoding fits.
    """
    text, encoding = _decode(data)
    if not text.strip():
        raise Unreadable("empty file")
    controls = sum(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)
    if controls > MAX_CONTROL_SHARE * len(text):
        raise Unreadable(f"binary file ({controls} control characters in {len(text)})")
    return text, encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).removeprefix("\ufeff"), encoding
            except UnicodeDecodeError as e:
                raise Unreadable(f"not {encoding} text despite its byte-order mark ({e.reason})") from None
    if b"\x00" in data:  # text in UTF-16/32 starts with a byte-order mark, handled above
        raise Unreadable("binary file (contains NUL bytes)")
    try:
        return data.decode("utf_8"), "utf_8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise Unreadable("binary file (no text encoding fits)")
    # On a tie (short texts: "São" is as plausible in cp1250 as "Săo"), the common encoding wins.
    tied = [m for m in matches if (m.percent_chaos, m.coherence) == (best.percent_chaos, best.coherence)]
    best = min(tied, key=lambda m: _commonness(m.could_be_from_charset))
    named = next((e for e in COMMON_ENCODINGS if e in best.could_be_from_charset), best.encoding)
    return str(best), named


def _commonness(encodings: list[str]) -> int:
    """Rank of the most common of ``encodings`` in ``COMMON_ENCODINGS`` (lower is more common)."""
    return min(
        (COMMON_ENCODINGS.index(e) for e in encodings if e in COMMON_ENCODINGS), default=len(COMMON_ENCODINGS)
    )


# -- HTML ---------------------------------------------------------------------------


def read_html(data: bytes) -> Extracted:
    """Article text and metadata of a web page, by trafilatura.

    The stored text is the headline on its own line, then trafilatura's article text
    (menus, footers and comments left out). The date comes from the page's markup
    (meta tags, JSON-LD, ``<time>``, bylines, the URL), never from body sentences:
    trafilatura's own date search with ``extensive_search`` off, then htmldate on
    the raw page with the page URL Chrome records when saving a page.
    """
    import htmldate
    from trafilatura import bare_extraction

    if not data.strip():
        raise Unreadable("empty file")
    saved = SAVED_FROM.search(data[:4096])
    url = saved.group(1).decode("ascii", "replace") if saved else None
    markup_only = {"original_date": True, "extensive_search": False, "max_date": date.today().isoformat()}
    try:
        page = bare_extraction(
            data, url=url, with_metadata=True, include_comments=False, date_extraction_params=markup_only
        )
    except Exception as e:  # trafilatura raises many kinds on malformed input
        raise Unreadable(f"HTML could not be parsed ({type(e).__name__}: {e})") from None
    body = (page.text or "").strip() if page else ""
    if not body:
        raise Unreadable("no article text found in the HTML")
    title = _clean(page.title)
    text = body if not title or body.startswith(title) else f"{title}\n{body}"
    found = page.date or htmldate.find_date(data, url=url, **markup_only)
    return Extracted(
        text=text,
        format="html",
        encoding=None,
        title=title,
        published=date.fromisoformat(found) if found else None,
        outlet=_clean(page.sitename) or _clean(page.hostname),
        author=_authors(page.author),
    )


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _authors(value: str | None) -> str | None:
    """trafilatura's author field without pieces of a byline date: ``"Ann Lee; March"`` -> ``"Ann Lee"``."""
    names = [n.strip() for n in (value or "").split(";")]
    names = [n for n in names if n and not re.search(r"\d", n) and not _MONTHS.fullmatch(n)]
    return "; ".join(names) or None


# -- PDF ----------------------------------------------------------------------------


def read_pdf(data: bytes) -> Extracted:
    """Text of every page by pypdf, pages joined by a blank line, with each page's start offset.

    Lines the printer wrapped inside a paragraph are joined again (see ``unwrap``), so a
    sentence is one line, as in a text file. The title is the PDF's own title when it has a
    real one; the date is never the PDF's creation date (that is when it was printed).
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise Unreadable("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unreadable("the PDF is encrypted")
        page_texts = [unwrap(page.extract_text() or "") for page in reader.pages]
        meta = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        if isinstance(e, Unreadable):
            raise
        raise Unreadable(f"the PDF could not be read ({type(e).__name__}: {e})") from None
    if not any(t.strip() for t in page_texts):
        raise Unreadable("the PDF has no text layer (a scanned PDF? OCR is not supported)")
    pages, parts, offset = [], [], 0
    for text in page_texts:
        pages.append(offset)
        parts.append(text)
        offset += len(text) + len(PAGE_BREAK)
    title = _clean(meta.get("/Title"))
    if title and (re.match(r"^\w+:", title) or re.search(r"\.\w{2,4}$", title)):  # "about:blank", "x.docx"
        title = None
    return Extracted(
        text=PAGE_BREAK.join(parts),
        format="pdf",
        title=title,
        author=_clean(meta.get("/Author")),
        pages=tuple(pages),
    )


def unwrap(text: str) -> str:
    """Join lines a PDF printer wrapped inside a paragraph.

    A line is taken as wrapped when it is at least ``WRAPPED`` times the longest line of
    the page and does not end a sentence: ``"Chile will ship 340 tonnes of\\ngallium."``
    -> ``"Chile will ship 340 tonnes of gallium."``. Short lines (headlines, bylines) and
    lines ending in ``.``/``!``/``?``/``:`` keep their line break.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    longest = max((len(line) for line in lines), default=0)
    out: list[str] = []
    for prev, line in zip(["", *lines], lines, strict=False):
        if out and prev.strip() and line.strip() and _wrapped(prev, longest):
            out[-1] += ("" if prev.endswith("-") else " ") + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out).strip()


def _wrapped(line: str, longest: int) -> bool:
    return len(line) >= WRAPPED * longest and not SENTENCE_END.search(line)
