"""How sure a sentence is: whether it says no, hedges ("may", "is expected to") or only
promises ("will approve", "agreed to lift"). A claim must not state as fact or as done what
its quotes only hedge or promise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .terms import CLAUSE_END, coverage, stemmer

NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n['’]t\b", re.IGNORECASE)


def negated(text: str) -> bool:
    """Whether ``text`` says no: ``"China did not confirm"`` -> True."""
    return bool(NEGATION.search(text))


# Words that make a statement less than a fact, by how: what may, could or is expected to
# happen, and what happens only if something else does. A lower-case "may" only: "in May" is a
# month. A hedge of one kind does not stand for the other: "has cost … if it continues" states
# as fact what "could cost … if it continues" says only may be so.
HEDGES = {
    "may be so": re.compile(
        r"\b(?:(?-i:may)|might|could|can|possibly|perhaps|probably|(?:un)?likely|potentially|expected"
        r"|reportedly|allegedly|unclear|uncertain|whether|consider(?:s|ed|ing)?"
        r"|(?:plan|aim|hope|seek)(?:s|ed|ing)?\s+to)\b",
        re.IGNORECASE,
    ),
    "only if": re.compile(r"\b(?:if|unless)\b", re.IGNORECASE),
}


OVERSTATED = "it states as fact what its quotes say only may be so"


def hedges(text: str) -> set[str]:
    """The kinds of ``HEDGES`` in ``text``: ``"It could rise if talks fail"`` -> both."""
    return {kind for kind, words in HEDGES.items() if words.search(text)}


def overstated(claim: str, quotes: Sequence[str]) -> bool:
    """Whether ``claim`` states as fact what its quotes only hedge: of all the quotes' clauses,
    the one that holds most of the claim's terms has a kind of hedge (``HEDGES``) the claim lacks.
    ``overstated("Shipments resumed.", ["Shipments could resume, analysts said."])`` -> True."""
    pieces = [p for q in quotes for p in CLAUSE_END.split(q) if p.strip()]
    if not pieces:
        return False
    return bool(hedges(max(pieces, key=lambda p: coverage(claim, p))) - hedges(claim))


# A verb within three words after one of these is only promised: "will approve", "would supply",
# "will now be submitted", "we'll take down"; or after "to" following a verb of promising
# ("agreed to approve", "pledged to lift") or a word that schedules ("is to be negotiated",
# "set to expire", "going to deliver"), but not any "to" ("was forced to halt" halted).
FUTURE = frozenset({"will", "would", "shall", "ll"})
PROMISING = frozenset({"agre", "pledg", "promis", "commit", "vow"})  # stems
SCHEDULING = frozenset({"is", "are", "was", "were", "set", "going"})
IRREGULAR_PAST = {
    "took": "take", "began": "begin", "gave": "give", "made": "make", "held": "hold", "spoke": "speak",
    "sent": "send", "met": "meet", "rose": "rise", "fell": "fall", "paid": "pay", "sold": "sell",
    "bought": "buy", "won": "win", "struck": "strike", "brought": "bring", "lent": "lend",
}  # fmt: skip
PROMISED = "it states as done what its quotes say only will be"


def promised(claim: str, quotes: Sequence[str]) -> list[str]:
    """The claim's verbs in the past ("approved", "took") that its quotes have only as promised
    ("will approve", "we'll take", "agreed to approve"; see ``FUTURE``): a promise stated as done.
    ``promised("China approved the licences.", ["China will approve licences."])`` -> ``["approved"]``.
    A quote that also has the verb unmarked ("approved some and will approve more") counts as
    saying it happened."""
    _, done, _ = _tenses(claim)
    future, _, said = _tenses("\n".join(quotes))
    return [word for word, stem in done if stem in future - said]


def _tenses(text: str) -> tuple[set[str], list[tuple[str, str]], set[str]]:
    """Stems of words that are only promised (``FUTURE``, ``PROMISING``, ``SCHEDULING``); (word, stem) of past
    forms elsewhere; stems of all words elsewhere. ``"It will approve. It signed."`` ->
    ``({"approv", "it"}, [("signed", "sign")], {"it", "will", "sign"})``."""
    future, past, other = set(), [], set()
    for sentence in re.split(r"[.!?;\n]+", text.lower()):
        words = re.findall(r"[a-z]+", sentence)
        stems = stemmer().stemWords([IRREGULAR_PAST.get(w, w) for w in words])
        starts = [
            i
            for i, word in enumerate(words)
            if word in FUTURE
            or (word == "to" and i > 0 and (stems[i - 1] in PROMISING or words[i - 1] in SCHEDULING))
        ]
        for i, (word, stem) in enumerate(zip(words, stems, strict=True)):
            if any(i - 3 <= start < i for start in starts):
                future.add(stem)
                continue
            other.add(stem)
            if word in IRREGULAR_PAST or (word.endswith("ed") and len(word) > 4):
                past.append((word, stem))
    return future, past, other
