"""Format readers and the stored extractions: text in any encoding, HTML, PDF."""

from __future__ import annotations

import json
from datetime import date
from io import BytesIO

import pytest

from rag import readers, textstore
from rag.corpus import load_corpus
from rag.readers import Unreadable, decode_text, read, read_html, read_pdf, unwrap
from rag.schema import Document

from .files import news_html, tiny_pdf

MB = 1 << 20
ACCENTED = (
    "Café owners protest in São Paulo\n\nCafé owners in São Paulo protested on Monday against a new tax.\n"
)
GALLIUM = [
    "Norway and Chile signed a gallium supply agreement in Oslo on Thursday.",
    "Under the deal, Chile will ship 340 tonnes of gallium to Norwegian refiners each year.",
    "The agreement runs for seven years and can be extended once.",
]


# -- text in any encoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, detected",
    [
        ("utf-8", {"utf_8"}),
        ("utf-8-sig", {"utf_8_sig"}),
        # charset-normalizer cannot tell Latin-1 from Windows-1252 for this text (same characters);
        # the common name is recorded
        ("latin-1", {"cp1252", "latin_1"}),
        ("cp1252", {"cp1252", "latin_1"}),
        ("utf-16", {"utf_16"}),
        ("utf-32", {"utf_32"}),
    ],
)
def test_text_in_any_encoding_is_read_and_its_encoding_recorded(encoding, detected):
    text, found = decode_text(ACCENTED.encode(encoding))
    assert text == ACCENTED and found in detected


def test_latin1_and_utf16_files_load_with_offsets_into_the_decoded_text(tmp_path):
    """The stored text is the decoded text, so a quote cut at its offsets is the article's words."""
    (tmp_path / "latin.txt").write_bytes(ACCENTED.encode("latin-1"))
    (tmp_path / "wide.txt").write_bytes(ACCENTED.replace("Café", "Kaffee").encode("utf-16"))
    docs, skipped = load_corpus(tmp_path, MB)
    assert skipped == []
    latin, wide = docs
    assert (latin.title, latin.encoding, wide.encoding) == (
        "Café owners protest in São Paulo",
        "cp1252",
        "utf_16",
    )
    start = latin.text.index("São Paulo protested")
    assert latin.text[start : start + 19] == "São Paulo protested"
    assert wide.text.startswith("Kaffee owners") and wide.path == str(tmp_path / "wide.txt")
    assert (
        latin.file_sha256 != latin.sha256
    )  # the file's bytes are Latin-1, the stored text's hash is of UTF-8


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"PK\x03\x04\x00\x00zipdata", "NUL"),
        (bytes(range(1, 32)) * 20, "binary"),  # control characters only
        (b"   \n\t", "empty"),
        (b"\xff\xfe\x41", "byte-order mark"),  # a UTF-16 BOM with an odd number of bytes after it
    ],
)
def test_bytes_that_are_not_text_are_refused_with_a_reason(data, reason):
    with pytest.raises(Unreadable, match=reason):
        decode_text(data)


# -- HTML -----------------------------------------------------------------------------------


def test_html_article_text_and_metadata():
    """Text from the <article>, without navigation or footer; headline, site, author and date
    from the meta tags."""
    page = read_html(news_html("Gallium deal signed in Oslo", GALLIUM).encode())
    assert page.text.splitlines()[0] == "Gallium deal signed in Oslo"
    assert all(p in page.text for p in GALLIUM)
    assert "Subscribe" not in page.text and "Markets" not in page.text
    assert (page.title, page.outlet, page.author) == (
        "Gallium deal signed in Oslo",
        "The Harbour Gazette",
        "Ingrid Solberg",
    )
    assert page.published == date(2025, 3, 14) and page.format == "html"


def test_html_date_from_a_byline_but_never_from_a_body_sentence():
    """A byline date is publication metadata; "would leave on June 12, 2025" is news, not a date stamp."""
    body = [*GALLIUM, "Officials said the first shipment would leave Antofagasta on June 12, 2025."]
    bare = news_html("Gallium deal", body, published=None)
    assert read_html(bare.encode()).published is None
    bylined = bare.replace(
        "<h1>Gallium deal</h1>", '<h1>Gallium deal</h1><p class="byline">By Ann Lee | March 3, 2025</p>'
    )
    page = read_html(bylined.encode())
    assert page.published == date(2025, 3, 3)
    assert page.author is None or "March" not in page.author


def test_saved_page_url_gives_the_date_and_site_when_the_markup_has_none():
    """Chrome's "saved from url" stamp is the page's address: htmldate reads the date in it."""
    page = news_html("Gallium deal", GALLIUM, site=None, published=None)
    stamp = "<!-- saved from url=(0062)https://www.example-news.com/world/2025/03/14/gallium-deal -->\n"
    found = read_html((stamp + page).encode())
    assert found.published == date(2025, 3, 14)
    assert found.outlet  # the site, from the URL's host


def test_broken_html_still_yields_its_text():
    page = read_html(
        b"<html><body><div><p>Norway and Chile signed a gallium deal <b>in Oslo<p>It runs seven years"
    )
    assert "gallium deal in Oslo" in page.text and "seven years" in page.text


@pytest.mark.parametrize(
    "data", [b"", b"<html><body><script>var a = 1;</script></body></html>", b"<html></html>"]
)
def test_html_without_an_article_is_refused(data):
    with pytest.raises(Unreadable, match="no article text|empty"):
        read_html(data)


# -- PDF ------------------------------------------------------------------------------------


def test_pdf_text_keeps_page_starts():
    pdf = read_pdf(tiny_pdf([["Gallium deal signed in Oslo", GALLIUM[0]], [GALLIUM[1], GALLIUM[2]]]))
    doc = Document("d", "t", None, None, pdf.text, "h", pages=pdf.pages)
    second = pdf.text.index("Under the deal")
    assert pdf.pages[0] == 0 and pdf.text[pdf.pages[1] :].startswith("Under the deal")
    assert (doc.page_at(0), doc.page_at(second - 3), doc.page_at(second), doc.page_at(len(pdf.text) - 1)) == (
        1,
        1,
        2,
        2,
    )


def test_unwrap_joins_lines_the_printer_wrapped():
    """Lines near the page's full width (Chromium's wrapped lines measure 0.91-1.0 of it) that do
    not end a sentence continue on the next line; a headline at 0.75 of it keeps its break."""
    page = (
        "US and China strike deal on rare earth exports in bid to ease\n"
        "SATURDAY, JUNE 28, 2025\n"
        "Norway and Chile signed a gallium supply agreement in Oslo on Thursday. Under the\n"
        "deal, Chile will ship 340 tonnes of gallium to Norwegian refiners each year, the\n"
        "ministry said.\n"
        "A short closing line."
    )
    assert unwrap(page).splitlines() == [
        "US and China strike deal on rare earth exports in bid to ease",
        "SATURDAY, JUNE 28, 2025",
        "Norway and Chile signed a gallium supply agreement in Oslo on Thursday. Under the deal, Chile will "
        "ship 340 tonnes of gallium to Norwegian refiners each year, the ministry said.",
        "A short closing line.",
    ]


def test_pdf_without_text_or_not_a_pdf_is_refused():
    from pypdf import PdfWriter

    with pytest.raises(Unreadable, match="no text layer"):
        read_pdf(tiny_pdf([[], []]))
    with pytest.raises(Unreadable, match="could not be read"):
        read_pdf(b"%PDF-1.4 truncated")
    with pytest.raises(Unreadable, match="not a PDF"):
        read_pdf(b"<html>renamed</html>")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    locked = BytesIO()
    writer.write(locked)
    with pytest.raises(Unreadable, match="encrypted"):
        read_pdf(locked.getvalue())


def test_unsupported_suffix_is_refused():
    with pytest.raises(Unreadable, match="unsupported format .docx"):
        read(".docx", b"PK")


# -- the stored extraction ---------------------------------------------------------------------


def test_extraction_is_stored_and_reused_until_the_file_changes(tmp_path, monkeypatch):
    """The second load reads the stored text, not the file: offsets cannot move under the index."""
    (tmp_path / "deal.html").write_text(news_html("Gallium deal signed in Oslo", GALLIUM), encoding="utf-8")
    (tmp_path / "deal2.pdf").write_bytes(tiny_pdf([["Gallium deal"], [GALLIUM[1]]]))
    first, _ = load_corpus(tmp_path, MB)
    stored = json.loads((textstore.text_dir(tmp_path) / "deal.json").read_text(encoding="utf-8"))
    assert stored["text"] == first[0].text and stored["file_sha256"] == first[0].file_sha256

    def unread(*args):
        raise AssertionError("the file was read again")

    monkeypatch.setattr("rag.corpus.read", unread)
    again, _ = load_corpus(tmp_path, MB)
    assert again == first and again[1].pages == first[1].pages

    monkeypatch.undo()
    (tmp_path / "deal.html").write_text(news_html("Gallium deal cancelled", GALLIUM), encoding="utf-8")
    changed, _ = load_corpus(tmp_path, MB)
    assert changed[0].title == "Gallium deal cancelled"


def test_a_newer_reader_version_reads_the_file_again(tmp_path, monkeypatch):
    """Reader changes bump READER_VERSION, and stored extractions of older versions are made again."""
    (tmp_path / "deal.html").write_text(news_html("Gallium deal", GALLIUM), encoding="utf-8")
    load_corpus(tmp_path, MB)
    calls = []
    monkeypatch.setattr("rag.corpus.read", lambda *args: calls.append(args) or read(*args))
    load_corpus(tmp_path, MB)
    monkeypatch.setattr(textstore, "READER_VERSION", readers.READER_VERSION + 1)
    load_corpus(tmp_path, MB)
    assert len(calls) == 1
