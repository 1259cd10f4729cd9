import logging
from datetime import date
from pathlib import Path

import pytest

from rag.corpus import CorpusError, Skipped, clean_title, find_date, load_corpus, parse_document

SEEDS = Path(__file__).parent.parent / "seeds"
MB = 1 << 20


@pytest.fixture(scope="module")
def seeds():
    docs, skipped = load_corpus(SEEDS, MB)
    assert skipped == []
    return {d.doc_id[:3]: d for d in docs}


@pytest.mark.parametrize(
    "key, title, published",
    [
        # the first line; "SATURDAY, JUNE 28, 2025" is the date line below it
        (
            "000",
            "US and China strike deal on rare earth exports in bid to ease trade tensions",
            date(2025, 6, 28),
        ),
        # "6/27/20252 min read" is m/d/yyyy glued to "2 min read"
        ("001", "US-China Rare Earth Trade Deal Signals Major Supply Chain Breakthrough", date(2025, 6, 27)),
        # the "Date:" line is empty and no other date sits at the top
        ("002", "US and China Finalise Rare-Earth Trade Agreement Amid Easing of Restrictions", None),
        # the first line "“`html" is a mangled code fence; "June 12, 2025" is inside a body sentence
        ("003", "US and China Reach Rare Earth Export Agreement Amid Trade Tensions", None),
        # the byline "by | 11. Jun 2025 - 10:39 | Politics" is day-first
        ("004", "Export Controls: U.S. and China Move Closer on Rare Earths", date(2025, 6, 11)),
    ],
)
def test_seed_titles_and_dates(seeds, key, title, published):
    """Titles and dates as a person reads them at the top of each seed article."""
    assert seeds[key].title == title
    assert seeds[key].published == published


def test_seeds_have_no_outlet(seeds):
    """No seed has a "Source:"/"Outlet:" line, and an outlet is never guessed (002's
    "EU Global Editorial Staff" is a byline at the bottom, not metadata)."""
    assert {d.outlet for d in seeds.values()} == {None}


def test_text_is_the_file_verbatim(seeds):
    """Quotes are later re-checked against the file, so the text must match it character for character."""
    for doc in seeds.values():
        path = SEEDS / f"{doc.doc_id}.txt"
        with open(path, encoding="utf-8", newline="") as f:
            assert doc.text == f.read()
        assert len(doc.sha256) == 64


def test_bom_is_dropped_and_crlf_kept(tmp_path):
    """A BOM is not content; CRLF line ends are, so offsets stay those of the file."""
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfTitle\r\nBody.\r\n")
    [doc], _ = load_corpus(tmp_path, MB)
    assert doc.text == "Title\r\nBody.\r\n"
    assert doc.title == "Title"


def test_bad_files_are_skipped_with_reasons(tmp_path, caplog):
    """Each bad file is skipped with its own reason and a warning; good files still load
    (a Latin-1 file is read, not skipped), and files of other formats are ignored."""
    (tmp_path / "good.md").write_text("# Good\n\nBody.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text(" \n\t\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00data")
    (tmp_path / "latin1.txt").write_bytes(
        "Caf\xe9 prices\n\nCaf\xe9 owners in S\xe3o Paulo protested.\n".encode("latin-1")
    )
    (tmp_path / "huge.txt").write_text("x" * 101, encoding="utf-8")
    (tmp_path / "good.txt").write_text("Same stem as good.md\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    with caplog.at_level(logging.WARNING, logger="rag.corpus"):
        docs, skipped = load_corpus(tmp_path, max_bytes=100)
    assert [d.doc_id for d in docs] == ["good", "latin1"]
    assert docs[0].title == "Good"
    assert docs[1].text.startswith("Café prices")
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "good.txt", "huge.txt", "notes.pdf"}
    assert "NUL" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "already taken" in reasons["good.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "could not be read" in reasons["notes.pdf"]
    assert all(isinstance(s, Skipped) for s in skipped)
    assert all(name in caplog.text for name in reasons)


def test_missing_or_empty_folder_raises(tmp_path):
    """Nothing to answer from is an error that names the folder (and why files were skipped)."""
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope", MB)
    with pytest.raises(CorpusError, match=str(tmp_path)):
        load_corpus(tmp_path, MB)
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="empty.md: empty file"):
        load_corpus(tmp_path, MB)


@pytest.mark.parametrize(
    "line, expected",
    [
        ("SATURDAY, JUNE 28, 2025", date(2025, 6, 28)),
        ("6/27/20252 min read", date(2025, 6, 27)),  # exactly 4 year digits
        ("by | 11. Jun 2025 - 10:39 | Politics", date(2025, 6, 11)),
        ("Published 2025-06-12T09:00Z", date(2025, 6, 12)),
        ("June 12, 2025", date(2025, 6, 12)),
        ("12 June 2025", date(2025, 6, 12)),
        ("Sept. 3rd, 2024", date(2024, 9, 3)),
        ("2/30/2025", None),  # no such day
        ("June 2025", None),  # no day: never invented
        ("Date:", None),
    ],
)
def test_find_date(line, expected):
    """Dates in the formats seen at the top of articles; anything incomplete or impossible is no date."""
    assert find_date(line) == expected


@pytest.mark.parametrize(
    "line, expected",
    [
        ("“`html", ""),  # a code fence whose first backticks became a curly quote
        ("```", ""),
        ("---", ""),
        ("## “Rare earths”", "Rare earths"),
        ("<h1>Deal done</h1>", "Deal done"),
        ("**Deal done**", "Deal done"),
        ("`Trade talks`", "Trade talks"),
    ],
)
def test_clean_title(line, expected):
    """Markup and quote artefacts are stripped; lines with nothing meaningful left are not titles."""
    assert clean_title(line) == expected


def test_front_matter_and_explicit_outlet():
    """Front matter wins; otherwise an explicit "Source:" line names the outlet. The date in
    the body sentence is ignored because it is long prose, not a date line."""
    fm = parse_document("a", "---\ntitle: FM title\ndate: 2025-06-12\noutlet: Reuters\n---\n# Heading\n", "h")
    assert (fm.title, fm.published, fm.outlet) == ("FM title", date(2025, 6, 12), "Reuters")
    body = (
        "# Heading\nSource: Bloomberg\nOfficials said on June 12, 2025 that talks with China resume soon.\n"
    )
    plain = parse_document("b", body, "h")
    assert (plain.title, plain.published, plain.outlet) == ("Heading", None, "Bloomberg")


def test_title_falls_back_to_doc_id():
    """A file with only artefact lines has no readable title, so the file stem stands in."""
    assert parse_document("017_abc", "```\n---\n", "h").title == "017_abc"
