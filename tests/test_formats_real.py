"""Articles brought by the reader, through the real embedder and the real GGUF model.

A news page written here, a PDF printed from HTML by the real Chromium, a Latin-1 and a
UTF-16 text file are added to a copy of the seeds with ``rag.library``; a direct question
about each gets a quote that is exactly the stored text at its offsets, and that the page
highlights. Removing an article takes its citations out of new answers.
"""

from __future__ import annotations

import json
import shutil

import pytest

from rag import library, render, textstore
from rag.pipeline import Pipeline

from .conftest import SEEDS
from .files import GALLIUM, TIN_PAGE, news_html, print_pdf

pytestmark = pytest.mark.real

LITHIUM = [
    "A lithium refinery opened near Perth on Monday.",
    "The Kwinana refinery will process 24,000 tonnes of spodumene concentrate a year.",
]
LATIN1 = (
    "Café owners protest in São Paulo\n\n"
    "Café owners in São Paulo said the new municipal tax would force them to close on Sundays.\n"
    "The city council will vote on the tax in the first week of June.\n"
)
UTF16 = (
    "Tram strike in Zürich\n\n"
    "The tram drivers' union in Zürich called a 48-hour strike starting on Friday.\n"
    "The city said buses would replace trams on the busiest routes.\n"
)


@pytest.fixture(scope="module")
def added(real_pipeline, tmp_path_factory):
    """A pipeline over a copy of the seeds plus the reader's files, added as ``rag add`` does."""
    root = tmp_path_factory.mktemp("own-articles")
    corpus = shutil.copytree(SEEDS, root / "corpus")
    downloads = root / "downloads"
    downloads.mkdir()
    (downloads / "gallium.html").write_text(news_html("Gallium deal signed in Oslo", GALLIUM), "utf-8")
    (downloads / "lithium.html").write_text(news_html("Lithium refinery opens near Perth", LITHIUM), "utf-8")
    print_pdf(TIN_PAGE, downloads / "tin.pdf")
    (downloads / "cafe.txt").write_bytes(LATIN1.encode("latin-1"))
    (downloads / "tram.txt").write_bytes(UTF16.encode("utf-16"))
    settings = real_pipeline.settings.with_(corpus_dir=corpus, index_dir=root / "index")
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder, generator_factory=real_pipeline.generator)
    change = library.add_files(settings, pipeline.embedder, [downloads])
    assert change.skipped == [] and len(change.added) == 5
    return pipeline


def cited(answer, doc_id: str):
    print(answer.to_markdown(), answer.warnings, sep="\n")
    assert not answer.abstained, answer.warnings
    return [c for c in answer.citations if c.doc_id == doc_id]


def assert_highlighted(doc, c) -> None:
    """The quote is the stored text at its offsets, and the source view marks exactly it."""
    assert doc.text[c.start : c.end] == c.quote and c.verified
    mark = f'<mark class="rag-mark">{render.escape_lines(c.quote)}</mark>'
    assert mark in render.citation_card_html(c, doc)


def stored_text(pipeline, doc_id: str) -> str:
    """The extracted text persisted beside the corpus, read back from disk."""
    path = textstore.text_dir(pipeline.settings.corpus_dir) / f"{doc_id}.json"
    return json.loads(path.read_text(encoding="utf-8"))["text"]


def test_html_page_answer_quotes_the_extracted_text(added):
    answer = added.ask("How many tonnes of gallium will Chile ship to Norwegian refiners each year?")
    quotes = cited(answer, "gallium")
    assert quotes and any("340 tonnes" in c.quote for c in quotes)
    doc = added.document("gallium")
    assert (doc.format, doc.outlet, doc.author) == ("html", "The Harbour Gazette", "Ingrid Solberg")
    for c in quotes:
        assert_highlighted(doc, c)
        assert stored_text(added, "gallium")[c.start : c.end] == c.quote


def test_chromium_printed_pdf_answer_quotes_page_two(added):
    answer = added.ask("How many tonnes of tin a year will the Huanuni mine produce?")
    quotes = [c for c in cited(answer, "tin") if "12,000 tonnes" in c.quote]
    assert quotes
    doc = added.document("tin")
    assert doc.format == "pdf" and len(doc.pages) == 2 and doc.title == "Tin mine reopens in Bolivia"
    for c in quotes:
        assert_highlighted(doc, c)
        assert stored_text(added, "tin")[c.start : c.end] == c.quote
        assert doc.page_at(c.start) == 2
        assert '<span class="rag-page">p. 2</span>' in render.citation_card_html(c, doc)


@pytest.mark.parametrize(
    "question, doc_id, phrase, encoding, codec",
    [
        (
            "What did café owners in São Paulo say the new tax would force them to do?",
            "cafe",
            "São Paulo",
            "cp1252",
            "cp1252",
        ),
        ("How long is the tram strike in Zürich?", "tram", "48-hour", "utf_16", "utf-16"),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_file_in_another_encoding_is_quoted_in_its_own_words(
    added, question, doc_id, phrase, encoding, codec
):
    quotes = [c for c in cited(added.ask(question), doc_id) if phrase in c.quote]
    assert quotes
    doc = added.document(doc_id)
    assert doc.encoding == encoding
    on_disk = (added.settings.corpus_dir / f"{doc_id}.txt").read_bytes().decode(codec)
    for c in quotes:
        assert_highlighted(doc, c)
        assert on_disk[c.start : c.end] == c.quote


def test_removed_article_is_never_cited_again(added):
    question = "How many tonnes of spodumene concentrate will the Kwinana refinery process a year?"
    assert cited(added.ask(question), "lithium")
    library.remove_article(added.settings, added.embedder, "lithium")
    after = added.ask(question)
    print(after.to_markdown(), after.warnings, sep="\n")
    assert all(c.doc_id != "lithium" for c in after.citations)
    assert "lithium" not in after.retrieved_doc_ids
