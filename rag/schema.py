"""The typed values that flow through the pipeline.

Everything that quotes a source carries ``doc_id`` plus ``start``/``end``
character offsets into that document's text, so any quote can be re-checked
and highlighted.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass(frozen=True)
class Document:
    """One article. ``text`` is the stored text (extracted, for HTML and PDF): every offset
    points into it, and ``sha256`` is its hash. ``path`` and ``file_sha256`` name the file
    it was read from."""

    doc_id: str
    title: str
    published: date | None
    outlet: str | None
    text: str
    sha256: str
    path: str | None = None
    file_sha256: str | None = None
    format: str = "text"  # "text", "html" or "pdf"
    encoding: str | None = None  # of a text file, as detected
    author: str | None = None
    pages: tuple[int, ...] = ()  # PDF: the offset in ``text`` where each page starts

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding ``text[offset]``; None for documents without pages.

        With ``pages == (0, 120)``: offset 5 -> 1, offset 130 -> 2.
        """
        return bisect_right(self.pages, offset) if self.pages else None


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # (start, end) offsets into the document


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense_rank: int | None  # 1-based rank in each retriever, None when it did not return the chunk
    lexical_rank: int | None


@dataclass(frozen=True)
class Evidence:
    """A numbered passage shown to the model; the model cites it by ``n``."""

    n: int
    doc_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Source:
    doc_id: str
    title: str
    outlet: str | None
    published: date | None

    @classmethod
    def of(cls, doc: Document) -> Source:
        return cls(doc.doc_id, doc.title, doc.outlet, doc.published)

    def byline(self) -> str:
        parts = [self.title, self.outlet, self.published.isoformat() if self.published else None]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    outlet: str | None
    published: date | None
    quote: str
    start: int
    end: int
    verified: bool
    page: int | None = None  # the PDF page the quote starts on


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    sources: list[Source] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    warnings: list[str] = field(default_factory=list)
    retrieved_doc_ids: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    query: str = ""  # what was searched for: the question, or a follow-up rewritten to stand alone
    context: str = ""  # what the model read: "corpus" (every article) or "evidence" (retrieved passages)

    def to_dict(self) -> dict:
        data = asdict(self)
        for item in data["citations"] + data["sources"]:
            if item["published"] is not None:
                item["published"] = item["published"].isoformat()
        return data

    def to_markdown(self) -> str:
        lines = [self.text]
        if self.citations:
            lines.append("")
        for c in self.citations:
            source = Source(c.doc_id, c.title, c.outlet, c.published).byline()
            mark = "" if c.verified else " (unverified)"
            page = f", p. {c.page}" if c.page else ""
            lines.append(f'[{c.n}] "{c.quote}" ({source}{page}){mark}')
        return "\n".join(lines)
