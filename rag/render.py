"""HTML for the chat page: answers, citation cards, source views, status lines.

Pure functions from typed values to strings; ``app.py`` only wires them to
components. Every piece of text that comes from an article, a question or the
model is HTML-escaped here, and nothing else is.

Each function returns one line of HTML with no blank lines: the chat window
renders messages as Markdown, and a blank line would end the HTML block and
let Markdown reinterpret the article text that follows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

from .answer import ABSTAIN_TEXT
from .schema import Answer, Citation, Document

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MARKER = re.compile(r"\[(\d+)\]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

DocumentLookup = Callable[[str], Document] | Mapping[str, Document]


def escape_lines(text: str) -> str:
    """Escape ``text`` and turn its line breaks into ``<br>``.

    ``"a < b\\n\\nc"`` -> ``"a &lt; b<br><br>c"``: blank lines are kept as a
    visible gap, but no newline character survives (see the module docstring).
    """
    return html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def format_date(day: date | None) -> str:
    """``date(2025, 6, 28)`` -> ``"28 Jun 2025"``; the same in every locale."""
    if day is None:
        return ""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def highlight_html(text: str, start: int, end: int) -> str:
    """Escape ``text`` and wrap ``text[start:end]`` in ``<mark>``.

    The offsets index the raw text, so the text is cut first and each piece is
    escaped afterwards: ``("a < b", 4, 5)`` -> ``"a &lt; <mark>b</mark>"``.
    Offsets outside the text, or an empty span, give the escaped text with no
    mark.
    """
    if not 0 <= start < end <= len(text):
        return escape_lines(text)
    before, span, after = text[:start], text[start:end], text[end:]
    return f'{escape_lines(before)}<mark class="rag-mark">{escape_lines(span)}</mark>{escape_lines(after)}'


def byline(title: str | None, outlet: str | None, published: date | None) -> str:
    """The parts of title, outlet and date that exist, escaped and joined with " · "."""
    parts = [title, outlet, format_date(published)]
    return " · ".join(html.escape(p) for p in parts if p)


def _lookup(documents: DocumentLookup, doc_id: str) -> Document | None:
    try:
        return documents[doc_id] if isinstance(documents, Mapping) else documents(doc_id)
    except Exception:  # a missing source must not take the answer down with it
        return None


def source_html(citation: Citation, document: Document | None) -> str:
    """The full source article with the cited span highlighted."""
    if document is None:
        return '<div class="rag-source rag-source-missing">The source text is not available.</div>'
    head = byline(document.title, document.outlet, document.published)
    located = 0 <= citation.start < citation.end <= len(document.text)
    note = "" if located else '<div class="rag-note">The quoted passage could not be located.</div>'
    body = highlight_html(document.text, citation.start, citation.end)
    return (
        f'<div class="rag-source"><div class="rag-source-head">{head}</div>{note}'
        f'<div class="rag-article">{body}</div></div>'
    )


def citation_card_html(citation: Citation, document: Document | None) -> str:
    """One numbered, collapsible card: quote and byline; opened, the source article."""
    flag = "" if citation.verified else ' <span class="rag-flag">unverified</span>'
    classes = "rag-cite" if citation.verified else "rag-cite rag-unverified"
    meta = byline(citation.title, citation.outlet, citation.published)
    page = citation.page or (document.page_at(citation.start) if document else None)
    meta = " · ".join(p for p in (meta, f'<span class="rag-page">p. {page}</span>' if page else "") if p)
    meta_html = f' <span class="rag-byline">— {meta}</span>' if meta else ""
    return (
        f'<details class="{classes}"><summary>'
        f'<span class="rag-cite-n">[{citation.n}]</span> '
        f'“<span class="rag-quote">{html.escape(citation.quote)}</span>”{meta_html}{flag}'
        f"</summary>{source_html(citation, document)}</details>"
    )


def citation_cards_html(answer: Answer, documents: DocumentLookup) -> str:
    """All citation cards of ``answer`` in order of their number; "" when there are none.

    ``documents`` maps a ``doc_id`` to its ``Document``: a dict, or a function
    such as ``Pipeline.document``. A source that cannot be found still gets a
    card (quote and byline) with a note instead of the article.
    """
    if not answer.citations:
        return ""
    cards = "".join(
        citation_card_html(c, _lookup(documents, c.doc_id))
        for c in sorted(answer.citations, key=lambda c: c.n)
    )
    return f'<div class="rag-citations">{cards}</div>'


def answer_text_html(text: str) -> str:
    """The answer's prose, escaped, with ``[n]`` markers set as superscripts.

    ``"Yes [1]."`` -> ``'<div class="rag-answer"><p>Yes <sup class="rag-ref">[1]</sup>.</p></div>'``
    """
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    body = "".join(
        "<p>" + _MARKER.sub(r'<sup class="rag-ref">[\1]</sup>', escape_lines(p)) + "</p>" for p in paragraphs
    )
    return f'<div class="rag-answer">{body}</div>'


def abstention_html(text: str = "") -> str:
    """The distinct box for "the sources don't say"; ``text`` follows, unless it is what the
    box says already (``ABSTAIN_TEXT``)."""
    text = "" if text == ABSTAIN_TEXT else text
    detail = f'<div class="rag-abstain-detail">{escape_lines(text.strip())}</div>' if text.strip() else ""
    title, _, body = ABSTAIN_TEXT.partition(". ")
    return (
        f'<div class="rag-abstain"><div class="rag-abstain-title">{html.escape(title, quote=False)}</div>'
        f'<div class="rag-abstain-body">{html.escape(body, quote=False)}</div>{detail}</div>'
    )


def warnings_html(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f'<ul class="rag-warnings">{items}</ul>'


def searched_html(answer: Answer) -> str:
    """What was searched for, when a follow-up question was rewritten to stand alone."""
    if not answer.query or answer.query == answer.question:
        return ""
    return f'<div class="rag-searched">Searched for: {html.escape(answer.query)}</div>'


def answer_html(answer: Answer, documents: DocumentLookup) -> str:
    """The finished chat message: answer and citation cards, or the abstention box."""
    if answer.abstained:
        body = abstention_html(answer.text)
    else:
        body = answer_text_html(answer.text) + citation_cards_html(answer, documents)
    return searched_html(answer) + body + warnings_html(answer.warnings)


def streaming_html(text: str) -> str:
    """The raw text generated so far, escaped, shown while the answer is written."""
    return f'<div class="rag-streaming">{escape_lines(text)}<span class="rag-cursor">▍</span></div>'


def question_html(text: str, limit: int = 600) -> str:
    """The user's question as typed: escaped, so Markdown and tags in it show literally.

    A question longer than ``limit`` characters is cut there and its length
    given, so a pasted article does not fill the chat.
    """
    if len(text) > limit:
        return (
            f'<div class="rag-question">{escape_lines(text[:limit])}… '
            f'<span class="rag-note">({len(text):,} characters)</span></div>'
        )
    return f'<div class="rag-question">{escape_lines(text)}</div>'


def notice_html(text: str, kind: str = "hint") -> str:
    """A short message from the page itself: ``kind`` is "hint" or "error"."""
    return f'<div class="rag-notice rag-{kind}">{escape_lines(text)}</div>'


def _seconds(answer: Answer) -> float | None:
    total = answer.timings.get("total_ms")
    return None if total is None else total / 1000


def source_count(answer: Answer) -> int:
    """How many distinct articles the answer quotes (its listed sources if it quotes none)."""
    cited = {c.doc_id for c in answer.citations}
    return len(cited) if cited else len(answer.sources)


def status_line(answer: Answer) -> str:
    """One line under the chat, e.g. ``"answered in 4.2 s from 3 sources"``.

    Abstentions read ``"no answer in the sources (1.3 s)"``; the time is left
    out when the pipeline did not report ``total_ms``.
    """
    seconds = _seconds(answer)
    if answer.abstained:
        return "no answer in the sources" + ("" if seconds is None else f" ({seconds:.1f} s)")
    n = source_count(answer)
    took = "" if seconds is None else f" in {seconds:.1f} s"
    return f"answered{took} from {n} source{'' if n == 1 else 's'}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _built(value: str) -> str:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    zone = " UTC" if when.tzinfo is not None else ""
    return f"{format_date(when.date())}, {when:%H:%M}{zone}"


def kind(doc: Document) -> str:
    """What the article was read from: ``"PDF, 3 pages"``, ``"HTML"``, ``"text (cp1252)"``."""
    if doc.format == "pdf":
        return f"PDF, {_plural(len(doc.pages), 'page')}"
    if doc.format == "html":
        return "HTML"
    return "text" if doc.encoding in (None, "utf_8") else f"text ({doc.encoding})"


def article_label(doc: Document) -> str:
    """One line naming an article, for a menu: ``"Deal struck · Example Times · 28 Jun 2025"``."""
    return " · ".join(p for p in (doc.title, doc.outlet, format_date(doc.published)) if p)


def articles_html(docs: list[Document]) -> str:
    """The indexed articles as a table: title, outlet, date, and what each was read from."""
    if not docs:
        return '<div class="rag-articles rag-note">No articles are indexed.</div>'
    rows = "".join(
        f'<tr data-doc-id="{html.escape(d.doc_id)}"><td class="rag-article-title">{html.escape(d.title)}</td>'
        f"<td>{html.escape(d.outlet or '')}</td><td>{format_date(d.published)}</td>"
        f"<td>{html.escape(kind(d))}</td></tr>"
        for d in docs
    )
    return (
        '<table class="rag-articles"><thead><tr><th>Title</th><th>Outlet</th><th>Date</th><th>From</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def change_html(added: list[str], removed: list[str], skipped: list[tuple[str, str]]) -> str:
    """What an upload or a removal did: the articles added or removed, each skipped file with why."""
    parts = []
    if added:
        parts.append(f"Added {_plural(len(added), 'article')}: {html.escape(', '.join(added))}.")
    if removed:
        parts.append(f"Removed {html.escape(', '.join(removed))}.")
    items = "".join(
        f'<li><span class="rag-skipped-name">{html.escape(name)}</span>: {html.escape(reason)}</li>'
        for name, reason in skipped
    )
    if items:
        parts.append(f'Skipped:<ul class="rag-skipped">{items}</ul>')
    return f'<div class="rag-change">{"".join(f"<div>{p}</div>" for p in parts)}</div>' if parts else ""


def index_state(info: Mapping) -> str:
    """``{"documents": 5, "chunks": 212, "built_at": "2026-11-26T14:55:00+00:00"}``
    -> ``"5 articles · 212 chunks · index built 26 Nov 2026, 14:55 UTC"``.

    Missing keys are left out; an unparseable time is shown as given.
    """
    parts = []
    if info.get("documents") is not None:
        parts.append(_plural(int(info["documents"]), "article"))
    if info.get("chunks") is not None:
        parts.append(_plural(int(info["chunks"]), "chunk"))
    if info.get("built_at"):
        parts.append(f"index built {_built(str(info['built_at']))}")
    return " · ".join(parts) if parts else "index state unknown"


# Styles and the one behaviour the chat page adds on top of gradio; passed to launch().
PAGE_CSS = """
.rag-answer p { margin: 0 0 0.6em 0; }
.rag-ref { font-weight: 600; color: var(--color-accent); }
.rag-streaming { white-space: normal; opacity: 0.85; }
.rag-cursor { animation: rag-blink 1s steps(1) infinite; }
@keyframes rag-blink { 50% { opacity: 0; } }
.rag-citations { margin-top: 0.6em; display: flex; flex-direction: column; gap: 0.4em; }
.rag-cite { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.4em 0.7em;
  background: var(--background-fill-secondary); }
.rag-cite > summary { cursor: pointer; }
.rag-cite-n { font-weight: 700; }
.rag-quote { font-style: italic; }
.rag-byline { color: var(--body-text-color-subdued); font-size: 0.92em; }
.rag-flag { background: #fde68a; color: #78350f; border-radius: 4px; padding: 0 0.35em; font-size: 0.8em;
  font-weight: 600; }
.rag-unverified { border-style: dashed; }
.rag-source { margin-top: 0.5em; }
.rag-source-head { font-weight: 600; margin-bottom: 0.3em; }
.rag-article { position: relative; max-height: 22em; overflow-y: auto; padding: 0.5em;
  border-top: 1px solid var(--border-color-primary); font-size: 0.92em; line-height: 1.5; }
.rag-mark { background: #fde047; color: #111; padding: 0 0.1em; }
.rag-abstain { border: 1px solid #f59e0b; border-left-width: 6px; border-radius: 8px; padding: 0.6em 0.8em;
  background: rgba(245, 158, 11, 0.08); }
.rag-abstain-title { font-weight: 700; margin-bottom: 0.2em; }
.rag-abstain-detail { margin-top: 0.4em; color: var(--body-text-color-subdued); }
.rag-searched { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.4em; }
.rag-warnings { margin: 0.5em 0 0 1.2em; font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-notice.rag-error { color: #b91c1c; }
.rag-notice.rag-hint { color: var(--body-text-color-subdued); }
#rag-status { min-height: 1.5em; color: var(--body-text-color-subdued); }
.rag-articles { width: 100%; font-size: 0.9em; border-collapse: collapse; }
.rag-articles th, .rag-articles td { text-align: left; padding: 0.2em 0.5em;
  border-bottom: 1px solid var(--border-color-primary); }
.rag-skipped { margin: 0.2em 0 0 1.2em; color: #b91c1c; }
.rag-skipped-name { font-weight: 600; }
"""

# Opening a citation card scrolls its article box to the highlighted quote.
PAGE_HEAD = """<script>
document.addEventListener("toggle", (event) => {
  const card = event.target;
  if (!(card instanceof HTMLDetailsElement) || !card.open || !card.classList.contains("rag-cite")) return;
  const box = card.querySelector(".rag-article");
  const mark = box && box.querySelector("mark");
  if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
}, true);
</script>"""
