"""Turn the model's raw text into an ``Answer`` with checked, renumbered citations.

The model only writes evidence numbers like ``[2]``. Quotes are never typed by
the model: each citation's quote is cut from the source document at the cited
evidence passage's offsets, and re-checked against the document text.
"""

from __future__ import annotations

import re

from .chunking import split_sentences
from .schema import Answer, Citation, Document, Evidence, Source

ABSTAIN_TEXT = "The sources don't say. Nothing in the indexed articles answers this question."
MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
ABSTAIN = re.compile(
    r"\b(sources?|articles?|context|texts?|passages?|information provided)\b[^.]*?"
    r"\b(do not|don't|does not|doesn't|did not|didn't)\b[^.]*?"
    r"\b(say|answer|mention|contain|provide|specify|state|include|address|cover|give)"
    r"|\bno (information|mention|details?)\b|\bnot (mentioned|specified|stated|provided)\b"
    r"|\bcannot (answer|determine|be determined)\b|\bunable to (answer|determine|find)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "the a an and or but of to in on at by for with from as is are was were be been has have had it its"
    " this that these those he she they them his her their will would could should may might can not no"
    " also than then there which who whom what when where why how about into after before over under"
    " said says".split()
)
MIN_SUPPORT = 0.34  # share of a sentence's content words its cited passage must contain to keep the citation
STRONG_SUPPORT = 0.5  # share at which an uncited sentence's best-matching passage is cited for it
MIN_GROUNDED = 0.3  # a sentence no passage reaches this share for is not from the sources: it is dropped
# "the passages [1] and [3]", "passage [2], passage [4]"
_CITED = (
    r"(?:the\s+)?(?:passages?|sources?|articles?|evidence)"
    r"(?:(?:\s*,|\s+and)?\s*(?:passage\s*)?\[[\d\s,;]+\])*"
)
# Talk about the passages rather than about the facts: "…, as stated in passage [1]."
META_TAIL = re.compile(
    r",?\s+(?:as\s+(?:stated|mentioned|noted|said|shown|described|indicated|reported|given)\s+in|according\s+to|"
    r"based\s+on)\s+" + _CITED + r"(?=\s*[.!?]*[\"'”’)]*\s*$)",
    re.IGNORECASE,
)
META_HEAD = re.compile(
    r"^(?:(?:according\s+to|based\s+on|as\s+(?:stated|mentioned|noted)\s+in)\s+" + _CITED + r"\s*,\s*"
    r"|" + _CITED + r"\s+(?:states?|says?|mentions?|notes?|reports?|indicates?|shows?)\s+(?:that\s+)?)",
    re.IGNORECASE,
)
# what drop_meta leaves is a sentence only about the passages: "It was said in passage [2]."
PASSAGE_TALK = re.compile(r"\bpassages?\s*\[\d", re.IGNORECASE)
LEADING_MARKS = re.compile(r"(?:\[[\d\s,;]+\]\s*)+")
GLUED_MARK = re.compile(r"([.!?][\"'”’)]*)(?=\[\d)")  # "rose.[1]"
FINAL_STOP = re.compile(r"[.!?]+[\"'”’)]*$")
INITIALISM_END = re.compile(r"\b(?:[A-Za-z]\.){2,}$")  # "U.S.": its last period belongs to it


def split_answer(text: str) -> list[str]:
    """Sentences of an answer, cut by the rules for article sentences ("U.S. Commerce"
    is one sentence); markers written after the full stop stay with their sentence.

    ``"A rose. [1] B fell [2]."`` -> ``["A rose. [1]", "B fell [2]."]``
    """
    text = GLUED_MARK.sub(r"\1 ", text.strip())
    sentences: list[str] = []
    for a, b in split_sentences(text):
        piece = text[a:b]
        marks = LEADING_MARKS.match(piece)
        if marks and sentences:
            sentences[-1] += " " + marks.group().strip()
            piece = piece[marks.end() :]
        if piece.strip():
            sentences.append(piece.strip())
    return sentences


def drop_meta(sentence: str) -> str:
    """Remove phrases about the passages, keeping their citation markers.

    ``"Licences last six months, as stated in passage [1]."`` -> ``"Licences last six months [1]."``;
    ``"According to passage [2], talks were held."`` -> ``"Talks were held [2]."``
    """
    marks: list[str] = []

    def keep_marks(m: re.Match) -> str:
        marks.extend(MARKER.findall(m.group()))
        return ""

    text = META_TAIL.sub(keep_marks, META_HEAD.sub(keep_marks, sentence.strip(), count=1), count=1)
    if not marks or not text:
        return sentence
    return with_marks(text[0].upper() + text[1:], "".join(f"[{m}]" for m in marks))


def with_marks(sentence: str, marks: str) -> str:
    """``("Talks were held.", "[1]")`` -> ``"Talks were held [1]."``; ``"…to the U.S. [1]"``"""
    stop = FINAL_STOP.search(sentence)
    cut = stop.start() if stop and not INITIALISM_END.search(sentence) else len(sentence)
    return f"{sentence[:cut]} {marks}{sentence[cut:]}"


def content_words(text: str) -> set[str]:
    """Lower-case words that carry meaning, crudely singular.

    ``"The licences expire" -> {"licence", "expire"}``
    """
    return {w.removesuffix("s") for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that the passage contains (1.0 for a sentence without any)."""
    words = content_words(sentence)
    return len(words & content_words(passage)) / len(words) if words else 1.0


def attribute(
    sentence: str, cited: list[int], evidence: dict[int, Evidence], warnings: list[str]
) -> list[int]:
    """The evidence numbers that back ``sentence``: the cited ones its words are found in.

    A cited passage sharing too few of the sentence's words is dropped when another
    passage clearly states the sentence (that one is cited instead); an uncited
    sentence is given the passage that clearly states it, if there is one.
    """
    score = {n: support(sentence, e.text) for n, e in evidence.items()}
    kept = [n for n in cited if score[n] >= MIN_SUPPORT]
    if kept:
        return kept
    best = max(score, key=lambda n: (score[n], -n), default=None)
    if best is not None and score[best] >= STRONG_SUPPORT and best not in cited:
        what = f"citation [{cited[0]}] replaced" if cited else "citation added"
        warnings.append(f"{what}: passage {best} states “{sentence[:60]}”")
        return [best]
    return cited


def chosen_passage(reply: str, count: int) -> int | None:
    """The passage number a choose-step reply names; None for 0, no number, or no such passage.

    ``("Passage 2.", 5)`` -> ``2``; ``("0", 5)`` -> ``None``; ``("7", 5)`` -> ``None``.
    """
    m = re.search(r"\d+", reply)
    n = int(m.group()) if m else 0
    return n if 1 <= n <= count else None


def is_abstention(text: str) -> bool:
    """True when every sentence says, in some words, that the sources do not answer."""
    sentences = split_answer(MARKER.sub("", text))
    return not sentences or all(ABSTAIN.search(s) for s in sentences)


def abstained(question: str, model: str, timings: dict, reason: str = "") -> Answer:
    warnings = [reason] if reason else []
    return Answer(question, ABSTAIN_TEXT, abstained=True, timings=timings, model=model, warnings=warnings)


def _cite(
    sentence: str, evidence: dict[int, Evidence], order: dict[int, int], warnings: list[str]
) -> tuple[str, list[int]]:
    """Strip a sentence's markers and re-attach the checked ones, renumbered, before its final stop."""
    cited: list[int] = []
    for match in MARKER.finditer(sentence):
        for n in (int(x) for x in re.split(r"[,;]", match.group(1))):
            if n not in evidence:
                warnings.append(f"removed citation [{n}]: there is no source {n}")
            elif n not in cited:
                cited.append(n)
    bare = MARKER.sub("", sentence).strip()
    cited = attribute(bare, cited, evidence, warnings) if bare else cited
    for n in cited:
        order.setdefault(n, len(order) + 1)
    marks = "".join(f"[{order[n]}]" for n in cited)
    if not marks:
        return bare, []
    return with_marks(bare, marks), [order[n] for n in cited]


def build_answer(
    question: str,
    raw: str,
    evidence: list[Evidence],
    documents: dict[str, Document],
    *,
    model: str,
    timings: dict,
) -> Answer:
    """Check and renumber the citations in ``raw``; abstain when the model said it cannot answer."""
    if is_abstention(raw):
        return abstained(question, model, timings, "the model found no answer in the sources")
    by_n = {e.n: e for e in evidence}
    order: dict[int, int] = {}  # evidence number -> citation number
    warnings: list[str] = []
    sentences, uncited = [], []
    for sentence in map(drop_meta, split_answer(raw)):
        bare = MARKER.sub("", sentence).strip()
        if not any(ch.isalnum() for ch in bare):
            continue
        if PASSAGE_TALK.search(sentence):
            warnings.append(f"dropped a sentence about the passages: “{bare}”")
            continue
        if by_n and max(support(bare, e.text) for e in evidence) < MIN_GROUNDED:
            warnings.append(f"dropped a sentence no source supports: “{bare}”")
            continue
        text, cited = _cite(sentence, by_n, order, warnings)
        if not text:
            continue
        sentences.append(text)
        if not cited:
            uncited.append(text)
    if not sentences:
        answer = abstained(question, model, timings, "no sentence of the answer was supported by the sources")
        answer.warnings[:0] = warnings
        return answer
    citations = []
    for n, new in sorted(order.items(), key=lambda kv: kv[1]):
        e = by_n[n]
        doc = documents[e.doc_id]
        quote = doc.text[e.start : e.end]
        citations.append(
            Citation(
                new, e.doc_id, doc.title, doc.outlet, doc.published, quote, e.start, e.end, quote == e.text
            )
        )
    sources = list({c.doc_id: Source.of(documents[c.doc_id]) for c in citations}.values())
    if uncited:
        warnings.append(f"{len(uncited)} sentence(s) carry no citation")
    return Answer(
        question,
        " ".join(sentences),
        citations,
        abstained=False,
        sources=sources,
        timings=timings,
        model=model,
        uncited_sentences=uncited,
        warnings=warnings,
    )
