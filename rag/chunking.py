"""Split documents into sentences and group sentences into overlapping chunks.

All spans are ``(start, end)`` character offsets into ``Document.text``, so a
chunk or a sentence can always be cut back out of the source verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from .schema import Chunk, Document

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# words whose trailing period does not end a sentence ("Mr. Smith", "Aug. 10"); not "may": "in May. Then"
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt gen gov sen rep inc co corp ltd jr sr vs al cf approx etc est fig incl "
    "no vol pp ed eds dept jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# capitalised words that start sentences far more often than they continue a name, so that
# "exports to the U.S. Like rare earths, ..." splits after "U.S." but "the U.S. Treasury" does not
STARTERS = frozenset(
    "a an the this that these those it its he she they we i in on at as but and or so yet "
    "like while when after before if although though however meanwhile still also some many "
    "there here such what why how".split()
)
OPENERS = "“\"‘'(["

_LINE = re.compile(r"[^\r\n]+")
# sentence-final punctuation plus closing quotes/brackets before whitespace,
# or a period glued to the next sentence after a 3+ letter lowercase word ("truce.The")
_END = re.compile(r"[.!?]+[”\"’')\]]*(?=\s)|(?<=[a-z]{3})\.(?=[A-Z][a-z])")
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]|[A-Z]")  # "U.S", "e.g", the initial in "J. Smith"
_NEXT = re.compile(r"\s*[“\"‘'(\[]*(\S)")  # the first character of the next sentence
_TOKEN = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A cheap, deterministic token count: words and punctuation marks.

    ``"U.S. deal, 2025."`` -> 8 (``U . S . deal , 2025 .``).
    """
    return len(_TOKEN.findall(text))


def _ends_sentence(line: str, m: re.Match[str]) -> bool:
    """Whether the punctuation matched at ``m`` ends a sentence within ``line``."""
    nxt = _NEXT.match(line, m.end())
    if not nxt:
        return False
    i = m.start()
    while i > 0 and not line[i - 1].isspace():
        i -= 1
    word = line[i : m.start()].lstrip(OPENERS)
    if nxt.group(1).islower():  # "standards. in return, ..." after a plain lowercase word
        return m.group() == "." and word.isalpha() and word.islower() and word not in ABBREVIATIONS
    if not (nxt.group(1).isupper() or nxt.group(1).isdigit()):
        return False
    if m.group() != ".":  # "!", "?", "..." or punctuation with closing quotes/brackets
        return True
    if word.isdigit() and line[nxt.start(1) : nxt.start(1) + 3].lower() in MONTHS:  # "11. Jun 2025"
        return False
    if _INITIALISM.fullmatch(word):
        next_word = _TOKEN.match(line, nxt.start(1))
        return len(word) > 1 and next_word is not None and next_word.group().lower() in STARTERS
    return word.lower() not in ABBREVIATIONS


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]`` as offsets into ``text``, without surrounding whitespace.

    Every line break ends a sentence, so headings and bylines ("Date:") stand alone
    (and hard-wrapped paragraphs are split at each break). Within a line a sentence
    ends at ``.``, ``!`` or ``?`` (plus closing quotes/brackets) before an uppercase
    letter, digit or opening quote, but not after abbreviations ("Mr.", "Aug. 10"),
    initials ("J. Smith") or initialisms ("U.S. Treasury") unless a word that usually
    starts sentences follows ("U.S. Like"). A period after a lowercase word also ends
    a sentence that starts in lowercase ("standards. in return"). Example:
    ``"Deal.\\n“They’re in,” he said. Mr. Li left."`` -> ``[(0, 5), (6, 28), (29, 41)]``.
    """
    end = len(text) if end is None else end
    spans = []
    for line_m in _LINE.finditer(text, start, end):
        line, base = line_m.group(), line_m.start()
        cuts = [0, *(m.end() for m in _END.finditer(line) if _ends_sentence(line, m)), len(line)]
        for a, b in pairwise(cuts):
            piece = line[a:b]
            if piece.strip():
                lead, trail = len(piece) - len(piece.lstrip()), len(piece) - len(piece.rstrip())
                spans.append((base + a + lead, base + b - trail))
    return spans


def chunk_document(
    doc: Document, count_tokens: Callable[[str], int], max_tokens: int, overlap: int
) -> list[Chunk]:
    """Consecutive sentences of ``doc`` grouped into chunks of at most ``max_tokens``.

    Neighbouring chunks share ``overlap`` sentences; the overlap shrinks when it
    leaves no room for a new sentence, so every chunk adds at least one sentence.
    A sentence longer than ``max_tokens`` becomes a chunk of its own.
    """
    if max_tokens < 1 or overlap < 0:
        raise ValueError(f"need max_tokens >= 1 and overlap >= 0, got {max_tokens} and {overlap}")
    spans = split_sentences(doc.text)

    def fits(first: int, last: int) -> bool:  # sentences first..last (inclusive) within budget
        return count_tokens(doc.text[spans[first][0] : spans[last][1]]) <= max_tokens

    chunks: list[Chunk] = []
    first = 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and fits(first, last + 1):
            last += 1
        s, e = spans[first][0], spans[last][1]
        sentences = tuple(spans[first : last + 1])
        chunks.append(Chunk(doc.doc_id, f"{doc.doc_id}#{len(chunks)}", doc.text[s:e], s, e, sentences))
        if last + 1 == len(spans):
            break
        first = max(last + 1 - overlap, first + 1)
        while first <= last and not fits(first, last + 1):  # make room for the next new sentence
            first += 1
    return chunks
