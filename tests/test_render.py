"""The chat page's HTML: citation cards, highlighting, abstention, status and index lines."""

from __future__ import annotations

from datetime import date

from rag import render
from rag.answer import ABSTAIN_TEXT
from rag.schema import Answer, Citation, Document, Source

ARTICLE = "Intro line.\n\nThe US will lift curbs on <chips> & software.\n\nMore text."
QUOTE = "The US will lift curbs on <chips> & software."
START = ARTICLE.index(QUOTE)
END = START + len(QUOTE)

DOC = Document(
    doc_id="d1",
    title="US & China strike deal",
    published=date(2025, 6, 28),
    outlet="Example Times",
    text=ARTICLE,
    sha256="0" * 64,
)


def citation(n=1, *, quote=QUOTE, start=START, end=END, verified=True, **changes) -> Citation:
    fields = dict(
        n=n,
        doc_id="d1",
        title=DOC.title,
        outlet=DOC.outlet,
        published=DOC.published,
        quote=quote,
        start=start,
        end=end,
        verified=verified,
    )
    fields.update(changes)
    return Citation(**fields)


def answer(**changes) -> Answer:
    fields = dict(
        question="What did the US give up?",
        text="The US agreed to lift curbs [1].",
        citations=[citation()],
        sources=[Source.of(DOC)],
        timings={"retrieve_ms": 40.0, "total_ms": 4240.0},
        model="qwen2.5-coder-1.5b",
    )
    fields.update(changes)
    return Answer(**fields)


# --- highlighting -------------------------------------------------------------


def test_highlight_escapes_every_piece_and_marks_the_raw_span():
    """Offsets index the raw text: text[4:16] is "b & <script>", so the mark wraps
    exactly that, escaped; "<", "&" and the tag outside the span are escaped too,
    which is why no live <script> element can appear."""
    text = "a < b & <script>x</script>"
    assert text[4:16] == "b & <script>"
    assert render.highlight_html(text, 4, 16) == (
        'a &lt; <mark class="rag-mark">b &amp; &lt;script&gt;</mark>x&lt;/script&gt;'
    )


def test_highlight_cuts_before_escaping():
    """The span [2, 3) of "x & y" is the raw "&": escaping first would shift the
    offsets into the middle of "&amp;"."""
    assert render.highlight_html("x & y", 2, 3) == 'x <mark class="rag-mark">&amp;</mark> y'


def test_highlight_with_offsets_outside_the_text_marks_nothing():
    """An end past the text, a negative start or an empty span cannot be shown as a
    span, so the article is shown escaped and unmarked rather than mis-marked."""
    for start, end in [(3, 99), (-1, 2), (2, 2)]:
        assert render.highlight_html("a<b", start, end) == "a&lt;b"


def test_newlines_become_br_so_markdown_never_sees_a_blank_line():
    """The chat renders Markdown; a blank line inside the HTML would end the HTML
    block and let "# ..." in an article turn into a heading."""
    out = render.highlight_html("one\n\n# two", 0, 3)
    assert out == '<mark class="rag-mark">one</mark><br><br># two'
    assert "\n" not in render.answer_html(answer(text="One [1].\n\nTwo."), {"d1": DOC})


# --- citation cards -----------------------------------------------------------


def test_card_shows_number_quote_title_outlet_and_date():
    """Everything a reader needs to judge a quote sits in the card's summary line;
    the date is spelled out ("28 Jun 2025") so it reads the same in every locale."""
    html = render.citation_cards_html(answer(), {"d1": DOC})
    summary = html.split("</summary>")[0]
    assert '<span class="rag-cite-n">[1]</span>' in summary
    assert '<span class="rag-quote">The US will lift curbs on &lt;chips&gt; &amp; software.</span>' in summary
    assert "US &amp; China strike deal · Example Times · 28 Jun 2025" in summary
    assert "rag-flag" not in html


def test_card_body_is_the_source_article_with_the_quote_marked():
    """Opening the card shows the whole article, and the marked span is exactly
    the quote (escaped), because the citation's offsets point at it."""
    html = render.citation_cards_html(answer(), {"d1": DOC})
    body = html.split("</summary>")[1]
    marked = '<mark class="rag-mark">The US will lift curbs on &lt;chips&gt; &amp; software.</mark>'
    assert f"Intro line.<br><br>{marked}" in body
    assert "More text." in body


def test_documents_can_be_a_function_such_as_pipeline_document():
    calls = []

    def lookup(doc_id):
        calls.append(doc_id)
        return DOC

    assert render.citation_cards_html(answer(), lookup) == render.citation_cards_html(answer(), {"d1": DOC})
    assert calls == ["d1"]


def test_missing_parts_are_left_out_not_shown_as_none():
    """A source without outlet and date shows only its title; no "None", no dangling separator."""
    html = render.citation_card_html(citation(outlet=None, published=None), None)
    assert "— US &amp; China strike deal</span>" in html
    assert "None" not in html and "· ·" not in html


def test_a_source_that_cannot_be_found_still_gets_its_card():
    """A lookup that raises leaves the quote and byline in place, with a note instead of the article."""

    def lookup(doc_id):
        raise KeyError(doc_id)

    html = render.citation_cards_html(answer(), lookup)
    assert 'class="rag-quote"' in html
    assert "The source text is not available." in html


def test_unverified_citation_is_flagged():
    """A quote the pipeline could not find verbatim gets a visible "unverified" label and class."""
    html = render.citation_cards_html(answer(citations=[citation(verified=False)]), {"d1": DOC})
    assert '<details class="rag-cite rag-unverified">' in html
    assert '<span class="rag-flag">unverified</span>' in html


def test_cards_come_in_number_order():
    cites = [citation(2, quote="More text.", start=ARTICLE.index("More"), end=len(ARTICLE)), citation(1)]
    html = render.citation_cards_html(answer(citations=cites), {"d1": DOC})
    assert html.index("[1]</span>") < html.index("[2]</span>")


def test_no_citations_no_cards():
    assert render.citation_cards_html(answer(citations=[]), {}) == ""


# --- answer text, abstention, notices -------------------------------------------


def test_answer_text_marks_references_and_escapes_the_rest():
    """[n] markers become superscripts; model output is text, so "<b>" shows literally."""
    assert render.answer_text_html("Yes <b> [1].\n\nNo [2].") == (
        '<div class="rag-answer"><p>Yes &lt;b&gt; <sup class="rag-ref">[1]</sup>.</p>'
        '<p>No <sup class="rag-ref">[2]</sup>.</p></div>'
    )


def test_abstention_is_a_distinct_box_without_citations():
    """Even if an abstained answer carries citations, none are shown: the sources don't say."""
    html = render.answer_html(answer(abstained=True, text="Not in the <sources>."), {"d1": DOC})
    assert html.startswith('<div class="rag-abstain">')
    assert "The sources don't say" in html
    assert "Not in the &lt;sources&gt;." in html
    assert "rag-cite" not in html


def test_abstention_without_text_has_no_empty_detail():
    assert "rag-abstain-detail" not in render.abstention_html("  ")


def test_the_usual_abstention_is_said_once():
    html = render.answer_html(answer(abstained=True, text=ABSTAIN_TEXT), {"d1": DOC})
    assert "rag-abstain-detail" not in html and html.count("backed by a quote") == 1


def test_warnings_are_listed_escaped():
    html = render.answer_html(answer(warnings=["1 sentence <uncited>"]), {"d1": DOC})
    assert html.endswith('<ul class="rag-warnings"><li>1 sentence &lt;uncited&gt;</li></ul>')


def test_a_rewritten_follow_up_shows_what_was_searched_for():
    """Only when the searched query differs from the question asked; escaped like all text."""
    asked = answer(question="And <it>?", query="What did the <US> give up?")
    assert render.answer_html(asked, {"d1": DOC}).startswith(
        '<div class="rag-searched">Searched for: What did the &lt;US&gt; give up?</div>'
    )
    same = answer(query="What did the US give up?")
    assert "rag-searched" not in render.answer_html(same, {"d1": DOC})


def test_streamed_text_is_escaped():
    assert render.streaming_html("a <b>\nc").startswith('<div class="rag-streaming">a &lt;b&gt;<br>c')


def test_long_question_is_cut_for_display():
    """A 2,500-character paste shows its first 600 characters and its length."""
    html = render.question_html("x" * 2500)
    assert html.count("x") == 600
    assert "(2,500 characters)" in html


# --- status line and index state -------------------------------------------------


def test_status_line_for_an_answer():
    """4240 ms rounds to 4.2 s; one article cited once is "1 source"."""
    assert render.status_line(answer()) == "answered in 4.2 s from 1 source"


def test_status_line_counts_distinct_articles():
    """Three citations from two articles: the answer is from 2 sources, not 3."""
    cites = [citation(1), citation(2), citation(3, doc_id="d2")]
    assert render.status_line(answer(citations=cites)) == "answered in 4.2 s from 2 sources"


def test_status_line_for_an_abstention():
    assert render.status_line(answer(abstained=True, timings={"total_ms": 1290.0})) == (
        "no answer in the sources (1.3 s)"
    )


def test_status_line_without_timings():
    assert render.status_line(answer(timings={})) == "answered from 1 source"


def test_index_state():
    """A timezone-aware build time is shown in UTC: 16:55 at +02:00 is 14:55 UTC."""
    info = {"documents": 5, "chunks": 1212, "built_at": "2026-11-26T16:55:09+02:00"}
    assert render.index_state(info) == "5 articles · 1,212 chunks · index built 26 Nov 2026, 14:55 UTC"


def test_index_state_degrades_gracefully():
    assert (
        render.index_state({"documents": 1, "built_at": "yesterday"}) == "1 article · index built yesterday"
    )
    assert render.index_state({}) == "index state unknown"


# -- the article library ----------------------------------------------------------------------


def test_citation_card_names_the_pdf_page_of_the_quote():
    """A PDF's page starts say where the quote is: ARTICLE's second paragraph starts page 2 here."""
    pdf = Document(**{**DOC.__dict__, "format": "pdf", "pages": (0, START)})
    assert '<span class="rag-page">p. 2</span>' in render.citation_card_html(citation(), pdf)
    assert "rag-page" not in render.citation_card_html(citation(), DOC)
    assert "p. 7" in render.citation_card_html(citation(page=7), None)


def test_article_table_escapes_and_names_the_source_format():
    html_doc = Document(**{**DOC.__dict__, "format": "html", "title": "<b>Deal</b>"})
    latin = Document(
        **{**DOC.__dict__, "doc_id": "d2", "published": None, "outlet": None, "encoding": "cp1252"}
    )
    pdf = Document(**{**DOC.__dict__, "doc_id": "d3", "format": "pdf", "pages": (0, 10, 20)})
    table = render.articles_html([html_doc, latin, pdf])
    assert "&lt;b&gt;Deal&lt;/b&gt;" in table and "<b>Deal" not in table
    assert "<td>Example Times</td><td>28 Jun 2025</td><td>HTML</td>" in table
    assert "<td></td><td></td><td>text (cp1252)</td>" in table and "PDF, 3 pages" in table
    assert render.articles_html([]) == '<div class="rag-articles rag-note">No articles are indexed.</div>'
    assert render.article_label(DOC) == "US & China strike deal · Example Times · 28 Jun 2025"


def test_change_lists_added_removed_and_skipped_files_with_reasons():
    shown = render.change_html(["a.html", "b.pdf"], [], [("scan.pdf", "the PDF has no text layer <sic>")])
    assert "Added 2 articles: a.html, b.pdf." in shown
    assert '<span class="rag-skipped-name">scan.pdf</span>: the PDF has no text layer &lt;sic&gt;' in shown
    assert "Removed d1." in render.change_html([], ["d1"], [])
    assert render.change_html([], [], []) == ""
