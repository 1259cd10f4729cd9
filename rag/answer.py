"""Turn the model's raw text into an ``Answer`` with checked, renumbered citations.

The model only writes evidence numbers like ``[2]``. Quotes are never typed by
the model: each citation's quote is cut from the source document at the cited
evidence passage's offsets, and re-checked against the document text.
"""

from __future__ import annotations

import itertools
import re

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
SENTENCE_END = re.compile(r"[.!?]+[\"'”’)]*(?:\s*\[[\d\s,;]+\])*(?=\s|$)")


def split_answer(text: str) -> list[str]:
    """Sentences of an answer; markers written after the full stop stay with their sentence.

    ``"A rose. [1] B fell [2]."`` -> ``["A rose. [1]", "B fell [2]."]``
    """
    text = text.strip()
    cuts = [0, *(m.end() for m in SENTENCE_END.finditer(text)), len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(cuts) if text[a:b].strip()]


def is_abstention(text: str) -> bool:
    """True when every sentence says, in some words, that the sources do not answer."""
    sentences = split_answer(MARKER.sub("", text))
    return not sentences or all(ABSTAIN.search(s) for s in sentences)


def abstained(question: str, model: str, timings: dict, reason: str = "") -> Answer:
    warnings = [reason] if reason else []
    return Answer(question, ABSTAIN_TEXT, abstained=True, timings=timings, model=model, warnings=warnings)


def _cite(
    sentence: str, valid: set[int], order: dict[int, int], warnings: list[str]
) -> tuple[str, list[int]]:
    """Strip a sentence's markers and re-attach the valid ones, renumbered, before its final stop."""
    cited: list[int] = []
    for match in MARKER.finditer(sentence):
        for n in (int(x) for x in re.split(r"[,;]", match.group(1))):
            if n not in valid:
                warnings.append(f"removed citation [{n}]: there is no source {n}")
            elif n not in cited:
                cited.append(n)
    bare = MARKER.sub("", sentence).strip()
    for n in cited:
        order.setdefault(n, len(order) + 1)
    marks = "".join(f"[{order[n]}]" for n in cited)
    if not marks:
        return bare, []
    stop = re.search(r"[.!?]+[\"'”’)]*$", bare)
    cut = stop.start() if stop else len(bare)
    return f"{bare[:cut]} {marks}{bare[cut:]}", [order[n] for n in cited]


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
    for sentence in split_answer(raw):
        text, cited = _cite(sentence, set(by_n), order, warnings)
        if not text:
            continue
        sentences.append(text)
        if not cited:
            uncited.append(text)
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
