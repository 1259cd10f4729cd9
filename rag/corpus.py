"""Load a folder of articles (``.txt``, ``.md``, ``.html``, ``.htm``, ``.pdf``) into ``Document`` values.

``rag.readers`` reads each format. For a text file, ``Document.text`` is the
file's content in its detected encoding (only a leading BOM is dropped), so
``text[start:end]`` can always be re-checked against the file. For HTML and PDF
it is the extracted text, stored by ``rag.textstore`` beside the corpus.
Metadata the format carries (HTML meta tags, a PDF title) comes first; the rest
is read from the top of the article; when it is not there, it stays ``None``
(or the title falls back to the file stem).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import textstore
from .readers import SUFFIXES, TEXT_SUFFIXES, Extracted, Unreadable, decode_text, read
from .schema import Document

log = logging.getLogger(__name__)

HEAD_LINES = 15  # metadata is looked for in the first lines ...
HEAD_CHARS = 600  # ... and the first characters of an article
DATE_LINE_CHARS = 60  # longer lines are body sentences, not date/byline lines
TITLE_CHARS = 200

QUOTES = "\"'`“”‘’«»*_"  # stripped around a title
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATES = [
    re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)"),
    # US m/d/yyyy; the year is exactly 4 digits, so "6/27/20252 min read" is 2025-06-27
    re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"),
    re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})(?!\d)", re.I),
    re.compile(rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+{_MONTH},?\s+(?P<y>\d{{4}})(?!\d)", re.I),
]
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DATE_LABEL = re.compile(r"^(?:date|published|posted|updated)\b", re.I)
_OUTLET = re.compile(r"^(?:source|outlet|publisher|published by)\s*:\s*(?P<v>\S.{0,79})$", re.I)
# a code fence with an optional language tag, also one whose first backticks became a curly quote ("“`html")
_FENCE = re.compile(r"^(?:[`~]{3,}|[“”\"']+`+)[\w+-]*$")
_TAG = re.compile(r"<[^>]*>")


class CorpusError(ValueError):
    """The corpus folder is missing or holds no usable document."""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def front_matter(text: str) -> tuple[dict[str, str], int]:
    """Markdown front matter as ``{key: value}`` plus the offset where the body starts.

    ``"---\\ntitle: X\\n---\\nBody"`` -> ``({"title": "X"}, 20)``; no front matter -> ``({}, 0)``.
    """
    m = re.match(r"---[ \t]*\r?\n(.*?)^---[ \t]*$\r?\n?", text, re.S | re.M)
    if not m:
        return {}, 0
    pairs = (line.split(":", 1) for line in m.group(1).splitlines() if ":" in line)
    return {k.strip().lower(): v.strip().strip("\"'") for k, v in pairs}, m.end()


def clean_title(line: str) -> str:
    """A line without markdown/quote artefacts; ``""`` when nothing meaningful is left.

    ``'## "Rare earths"'`` -> ``'Rare earths'``; ``'“`html'`` (a mangled code fence) -> ``''``.
    """
    if _FENCE.match(line.strip()):
        return ""
    s = _TAG.sub("", line).strip().lstrip("#").strip(QUOTES + " ")
    if not any(ch.isalnum() for ch in s):
        return ""
    if len(s) > TITLE_CHARS:
        s = s[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return s


def find_date(line: str) -> date | None:
    """The first valid date in ``line``.

    ``"SATURDAY, JUNE 28, 2025"`` -> 2025-06-28, ``"by | 11. Jun 2025 - 10:39"`` -> 2025-06-11,
    ``"6/27/20252 min read"`` -> 2025-06-27. Impossible dates (``"2/30/2025"``) are ignored.
    """
    found = []
    for pattern in _DATES:
        for m in pattern.finditer(line):
            g = m.groupdict()
            month = _MONTHS.index(g["mon"][:3].lower()) + 1 if g.get("mon") else int(g["m"])
            try:
                found.append((m.start(), date(int(g["y"]), month, int(g["d"]))))
            except ValueError:
                continue
    return min(found)[1] if found else None


def head_lines(body: str) -> list[str]:
    """The stripped, non-empty lines at the top of an article, where metadata lives."""
    lines = (line.strip() for line in body[:HEAD_CHARS].splitlines()[:HEAD_LINES])
    return [line for line in lines if line]


def published_date(lines: list[str], title_line: str | None) -> date | None:
    """The publication date from the date/byline lines at the top; ``None`` when absent.

    Only short lines (at most ``DATE_LINE_CHARS``) and labelled lines (``Date:``,
    ``Published ...``) count, and never the title line: a date inside a body sentence
    or a headline ("... confirmed on June 12, 2025, that ...") is about the news,
    not the publication. A date is never guessed.
    """
    for line in lines:
        if line == title_line or (len(line) > DATE_LINE_CHARS and not _DATE_LABEL.match(line)):
            continue
        if found := find_date(line):
            return found
    return None


def outlet_name(lines: list[str]) -> str | None:
    """The outlet from an explicit ``Source:``/``Outlet:``/``Publisher:`` line, else ``None``."""
    for line in lines:
        if m := _OUTLET.match(line):
            return m.group("v").strip()
    return None


def parse_document(doc_id: str, text: str, sha256: str) -> Document:
    """A ``Document`` with title, date and outlet read from front matter or the top lines."""
    meta, body_start = front_matter(text)
    lines = head_lines(text[body_start:])
    title_line = next((line for line in lines if clean_title(line)), None)
    meta_date = next((d for key in ("date", "published") if (d := find_date(meta.get(key, "")))), None)
    meta_outlet = next((meta[k] for k in ("outlet", "source", "publisher") if meta.get(k)), None)
    return Document(
        doc_id=doc_id,
        title=clean_title(meta.get("title", "")) or (title_line and clean_title(title_line)) or doc_id,
        published=meta_date or published_date(lines, title_line),
        outlet=meta_outlet or outlet_name(lines),
        text=text,
        sha256=sha256,
    )


def document_from(doc_id: str, extracted: Extracted, path: Path, file_sha256: str) -> Document:
    """A ``Document`` for what a reader extracted: the format's metadata first, then the top lines."""
    text = extracted.text
    parsed = parse_document(doc_id, text, hashlib.sha256(text.encode("utf-8")).hexdigest())
    return dataclasses.replace(
        parsed,
        title=extracted.title or parsed.title,
        published=extracted.published or parsed.published,
        outlet=extracted.outlet or parsed.outlet,
        path=str(path),
        file_sha256=file_sha256,
        format=extracted.format,
        encoding=extracted.encoding,
        author=extracted.author,
        pages=extracted.pages,
    )


def decode(data: bytes) -> tuple[str | None, str]:
    """``(text, "")`` for a usable text file's bytes in any encoding, else ``(None, reason)``."""
    try:
        return decode_text(data)[0], ""
    except Unreadable as e:
        return None, str(e)


def load_file(path: Path, max_bytes: int, corpus_dir: Path | None = None) -> Document | str:
    """The document in ``path``, or the reason it cannot be used.

    HTML and PDF extractions are stored in (and reused from) ``corpus_dir``'s text store.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:  # checked before reading, so a huge file is never read
            return f"too large ({size} bytes, limit {max_bytes})"
        data = path.read_bytes()
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    file_sha256 = hashlib.sha256(data).hexdigest()
    extracted = None
    stored = corpus_dir is not None and path.suffix.lower() not in TEXT_SUFFIXES
    if stored:
        extracted = textstore.get(corpus_dir, path.stem, file_sha256)
    if extracted is None:
        try:
            extracted = read(path.suffix, data)
        except Unreadable as e:
            return str(e)
        if stored:
            textstore.put(corpus_dir, path.stem, file_sha256, extracted)
    return document_from(path.stem, extracted, path, file_sha256)


def load_corpus(corpus_dir: Path, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
    """Every article file in ``corpus_dir`` (sorted by name) as a ``Document``.

    Unusable files (too large, binary, empty, a PDF without text, an HTML page without
    an article, or with the same stem as an earlier file, e.g. ``a.txt`` after ``a.md``)
    are skipped with a reason and a logged warning. Raises ``CorpusError`` when the
    folder is missing or nothing in it is usable.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder not found: {corpus_dir} (set RAG_CORPUS_DIR to your articles)")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    taken: set[str] = set()
    for path in sorted(corpus_dir.iterdir()):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if path.stem in taken:
            loaded: Document | str = f"doc_id {path.stem!r} already taken by another file"
        else:
            loaded = load_file(path, max_bytes, corpus_dir)
        if isinstance(loaded, Document):
            docs.append(loaded)
            taken.add(loaded.doc_id)
            continue
        log.warning("Skipping %s: %s", path, loaded)
        skipped.append(Skipped(str(path), loaded))
    if not docs:
        reasons = "".join(f"\n  {Path(s.path).name}: {s.reason}" for s in skipped)
        kinds = ", ".join(sorted(SUFFIXES))
        raise CorpusError(f"No usable articles ({kinds}) in {corpus_dir}{reasons}")
    return docs, skipped


def provenance(doc: Document) -> dict:
    """What the index manifest records about where a document's text came from."""
    return {"path": doc.path, "file_sha256": doc.file_sha256, "format": doc.format, "encoding": doc.encoding}
