from itertools import pairwise
from pathlib import Path

import pytest

from rag.chunking import approx_tokens, chunk_document, split_sentences
from rag.corpus import load_corpus
from rag.schema import Document

SEEDS = Path(__file__).parent.parent / "seeds"


@pytest.fixture(scope="module")
def docs():
    return load_corpus(SEEDS, 1 << 20)[0]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def doc_of(text: str) -> Document:
    return Document("d", "T", None, None, text, "h")


@pytest.mark.parametrize(
    "text, expected",
    [
        # abbreviations and initials do not end sentences
        ("The U.S. agreed. Mr. Li and J. Smith met.", ["The U.S. agreed.", "Mr. Li and J. Smith met."]),
        ("Talks end by Aug. 10. Then what?", ["Talks end by Aug. 10.", "Then what?"]),
        ("Firms, e.g. Ford, paused. It hurt.", ["Firms, e.g. Ford, paused.", "It hurt."]),
        # numbers with slashes or decimals contain no sentence end
        (
            "6/27/2025 was a Friday. Prices rose 3.5 per cent.",
            ["6/27/2025 was a Friday.", "Prices rose 3.5 per cent."],
        ),
        # a quoted sentence followed by "he said." is one sentence; the next quote starts a new one
        (
            "“They’re going to deliver rare earths to us,” he said. “Once China does that, we act.”",
            ["“They’re going to deliver rare earths to us,” he said.", "“Once China does that, we act.”"],
        ),
        # lines without final punctuation (headings, bylines, an empty "Date:") stand alone
        (
            "Rare Earth Deal\n\nDate:\nby | 11. Jun 2025 - 10:39 | Politics\nBody.",
            ["Rare Earth Deal", "Date:", "by | 11. Jun 2025 - 10:39 | Politics", "Body."],
        ),
        # a sentence may start in lowercase after a plain word, not after an abbreviation
        ("It met standards. in return, it eased.", ["It met standards.", "in return, it eased."]),
        ("Oil, gas, etc. and more. Rates, i.e. fees.", ["Oil, gas, etc. and more.", "Rates, i.e. fees."]),
        # after an initialism, only a word that usually starts a sentence starts one
        (
            "Exports to the U.S. Like rare earths, they matter. The U.S. Treasury agreed.",
            ["Exports to the U.S.", "Like rare earths, they matter.", "The U.S. Treasury agreed."],
        ),
        # missing space after a period, as in seed 003 ("short-lived truce.The agreement")
        ("A short-lived truce.The agreement holds.", ["A short-lived truce.", "The agreement holds."]),
    ],
)
def test_split_sentences_edge_cases(text, expected):
    """Each case is how a reader would split it."""
    assert sentences(text) == expected


def test_split_sentences_respects_start_end():
    """Offsets stay offsets into the whole text when only a region is split."""
    text = "Skip me. Keep this. And this. Not this."
    spans = split_sentences(text, 9, 29)
    assert [text[s:e] for s, e in spans] == ["Keep this.", "And this."]
    assert spans[0][0] == 9


def test_sentences_cover_every_seed(docs):
    """Sentences are stripped, in order, non-overlapping, and together hold every non-space character."""
    for doc in docs:
        spans = split_sentences(doc.text)
        assert all(a < b <= c for (a, b), (c, _) in pairwise(spans))
        pieces = [doc.text[s:e] for s, e in spans]
        assert all(p == p.strip() and p for p in pieces)
        assert "".join("".join(p.split()) for p in pieces) == "".join(doc.text.split())


@pytest.mark.parametrize("max_tokens, overlap", [(40, 0), (60, 1), (120, 2), (5, 1)])
def test_chunks_of_seeds(docs, max_tokens, overlap):
    """Every chunk is a verbatim slice of its document made of whole sentences; the budget holds
    except for a lone over-long sentence; chunks together cover all sentences in order."""
    for doc in docs:
        chunks = chunk_document(doc, approx_tokens, max_tokens, overlap)
        assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]
        seen: list[tuple[int, int]] = []
        for c in chunks:
            assert c.doc_id == doc.doc_id
            assert doc.text[c.start : c.end] == c.text
            assert (c.sentences[0][0], c.sentences[-1][1]) == (c.start, c.end)
            assert list(c.sentences) == sorted(c.sentences)
            assert approx_tokens(c.text) <= max_tokens or len(c.sentences) == 1
            assert c.sentences[-1] not in seen  # every chunk adds a new sentence
            seen += [s for s in c.sentences if s not in seen]
        assert seen == split_sentences(doc.text)


def test_overlap_shares_sentences():
    """Ten 3-token sentences with a 9-token budget: each chunk holds 3 sentences and starts with the
    last one of the chunk before, so the chunk starts step by 2 sentences."""
    doc = doc_of(" ".join(f"S{i} here." for i in range(10)))
    chunks = chunk_document(doc, approx_tokens, max_tokens=9, overlap=1)
    assert [len(c.sentences) for c in chunks] == [3, 3, 3, 3, 2]
    for prev, nxt in pairwise(chunks):
        assert nxt.sentences[0] == prev.sentences[-1]


def test_overlap_shrinks_instead_of_looping():
    """An overlap as large as the chunk, or a long sentence after it, must not stall: the next chunk
    drops overlap until the next new sentence fits."""
    doc = doc_of("Short one. " + "Long " * 20 + "sentence. Tail.")
    chunks = chunk_document(doc, approx_tokens, max_tokens=6, overlap=5)
    assert [doc.text[s:e] for c in chunks for s, e in c.sentences][:2] == [
        "Short one.",
        "Long " * 19 + "Long sentence.",
    ]
    assert len(chunks) == 3
    assert chunks[1].sentences == (split_sentences(doc.text)[1],)  # over budget alone


def test_empty_and_invalid():
    """No sentences give no chunks; a zero budget is a caller error."""
    assert chunk_document(doc_of("  \n "), approx_tokens, 10, 1) == []
    with pytest.raises(ValueError):
        chunk_document(doc_of("A."), approx_tokens, 0, 1)


def test_approx_tokens():
    """Words and punctuation marks count one each: U . S . deal , 2025 ."""
    assert approx_tokens("U.S. deal, 2025.") == 8
