"""Attribution: the system, not the model, decides what backs each claim.

Each answer sentence (a claim) is matched against candidate source sentences by
embedding similarity plus lexical overlap; the best match is its quote, cut from the
source at exact offsets. A number the model wrote (``[2]``) is only a hint. Then the
grounding rules: every number and every proper name in a claim must appear in its
quotes or in the cited article's headline and date line (a number or date may also come
from the question), allowing the aliases of ``terms.ALIASES``; a claim must not say no
where its quotes say yes, nor state as fact or as done what they hedge or promise
(``modality``); and a name must keep the role and the doings its quotes give it
(``roles``). A claim that fails is dropped, with the reason.

Everything here is a pure function of text and vectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .modality import OVERSTATED, PROMISED, negated, overstated, promised
from .questions import polar
from .roles import swapped_actors, swapped_roles
from .terms import CLAUSE_END, absent, asked_dates, content_terms, coverage, names, numbers

# a sentence that opens on these means what the sentence before it says: "He said…", "In return, …"
LEANS_BACK = re.compile(r"^[“\"']?(he|she|it|they|this|that|these|those|his|her|its|their|in return)\b", re.I)
RESTATES = "it only restates the question"
_PART_END = re.compile(rf"{CLAUSE_END.pattern}|(?<=\w\.)\s+(?=[A-Z])")


def weakest_part(claim: str, grounding: str, question: str, min_terms: int) -> tuple[str, float]:
    """The clause of ``claim`` (cut at commas, dashes and sentence ends) whose ``coverage`` by
    ``grounding`` is lowest, among those adding at least ``min_terms`` terms to the question;
    ``("", 1.0)`` when there is none. A claim glued from a quoted clause and one that is not
    ("China's ban on gallium to the U.S. Like rare earths, these metals…") shows in its parts."""
    asked = content_terms(question)
    parts = [p.strip() for p in _PART_END.split(claim)]
    scored = [
        (coverage(p, grounding, question), p) for p in parts if len(content_terms(p) - asked) >= min_terms
    ]
    if not scored:
        return "", 1.0
    low, part = min(scored)
    return part, low


FINAL_STOP = re.compile(r"[.!?]+[\"'”’)]*$")  # a sentence's own full stop, past closing quotes
_LIST_TAIL = re.compile(r",\s*(?:\S+\s+){0,2}\S+$")  # "…software, aircraft": an item of at most three words
_QUOTE_MARK = re.compile(r"[\"“”]")
_CONJUNCTION = re.compile(
    r"\s*(?:;|,\s+(?:and|but|while|whereas)\b)\s*"
    r"|(?-i:(?<=\b[A-Z]\.)\s+(?=[A-Z][a-z]))",  # "…to the U.S. China banned…": two sentences glued
    re.IGNORECASE,
)


def conjuncts(claim: str, min_terms: int) -> list[str]:
    """The statements a claim joins with "; " or ", and" (", but", ", while"), or glues after
    an initialism, as sentences, when each has at least ``min_terms`` terms: ``"China eased
    curbs on ethane, and the US lifted tariffs."`` -> ``["China eased curbs on ethane.", "The
    US lifted tariffs."]``; ``[claim]`` when it makes one statement. Two facts from two
    articles, joined in one sentence, are checked one by one. The ", and" that ends a list
    ("curbs on software, aircraft, and other goods") joins no statements."""
    body = claim.strip()
    if _QUOTE_MARK.search(body):  # quoted words are one speaker's, kept whole
        return [claim]
    stop = FINAL_STOP.search(body)
    body = body[: stop.start()] if stop else body
    cuts = [m.span() for m in _CONJUNCTION.finditer(body) if not _LIST_TAIL.search(body[: m.start()])]
    bounds = [0, *(i for span in cuts for i in span), len(body)]
    pieces = [body[a:b].strip() for a, b in zip(bounds[::2], bounds[1::2], strict=True)]
    if len(pieces) < 2 or any(len(content_terms(p)) < min_terms for p in pieces):
        return [claim]
    ends = ["."] * (len(pieces) - 1) + [stop.group() if stop else "."]
    pieces = [p if FINAL_STOP.search(p) else p + end for p, end in zip(pieces, ends, strict=True)]
    return [p[0].upper() + p[1:] for p in pieces]


def clauses(sentence: str) -> list[str]:
    """Spans of one or two consecutive clauses, for a claim that restates part of a long
    sentence: ``"The call, held on 5 June, paved the way."`` -> ``["The call", "The call, held
    on 5 June", "held on 5 June", …]``. Empty for a sentence of one clause."""
    cuts = [0, *(m.end() for m in CLAUSE_END.finditer(sentence)), len(sentence)]
    if len(cuts) < 3:
        return []
    spans = [(cuts[i], cuts[j]) for i in range(len(cuts) - 1) for j in (i + 1, i + 2) if j < len(cuts)]
    return [t for t in (sentence[a:b].strip(" ,;:—–-") for a, b in spans) if any(c.isalnum() for c in t)]


# -- attribution ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A source sentence a claim may cite; ``unit`` is the numbered unit the model read it in."""

    doc_id: str
    start: int
    end: int
    text: str
    unit: int | None = None


@dataclass(frozen=True)
class Rules:
    """The thresholds of attribution (MiniLM similarities). Measured on the model's cached
    answers to dev and extra, in both context strategies: dev and extra scores did not move
    for min_similarity 0.35-0.55 or min_coverage 0.4-0.75, so both sit mid-range;
    min_relevance 0.2 did better on extra than 0.1, 0.15 or 0.25, and 0.3 cost dev facts.
    Of 118 kept claims (dev, extra and multi, both strategies), those sharing no word with
    the question were beside it at 0.21-0.27 (and one at 0.36), and one answering it at 0.43:
    min_further_relevance sits between.
    The claim check put every backed claim at P(yes) >= 0.53 and the three misattributed
    ones at 0.20-0.43. Every clause of three or more new terms in the kept claims of both
    sets was held in full by its quotes, but for one glued from two sentences (0%)."""

    lexical_weight: float = 0.5  # weight of lexical coverage beside cosine similarity
    hint_bonus: float = 0.05  # score added to candidates in the unit the model cited
    min_similarity: float = 0.45  # a claim whose best quote is less similar is not from the sources
    min_coverage: float = 0.5  # share of what a claim adds to the question that its quotes must hold
    min_part_terms: int = 3  # a clause adding fewer terms is not checked on its own (a connective)
    min_relevance: float = 0.2  # a claim less similar to the question is not about it
    min_further_relevance: float = 0.35  # the same, for a further claim that shares no word with it
    max_quotes: int = 2  # quotes one claim may combine
    quote_window: int = 2  # a further quote is from the first one's article, this many sentences away at most
    search_depth: int = 20  # a further quote is looked for among this many best-ranked candidates
    min_entailment: float = 0.5  # with verify_claims: the model's P(yes) that the quotes state the claim
    requotes: int = 2  # quotes set aside, one at a time, when the judge rejects a claim's quotes
    verbatim: float = 0.9  # a claim this similar to its quotes, covering all it adds, copies them


RULES = Rules()


@dataclass
class Attribution:
    claim: str
    quotes: list[Candidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # empty: the claim is kept
    similarity: float = 0.0  # of the best quote
    part_similarity: float = 0.0  # of the best quote's closest clauses (see ``clauses``)
    coverage: float = 0.0  # of what the claim adds to the question, by its grounding
    relevance: float = 0.0  # similarity of the claim to the question

    @property
    def kept(self) -> bool:
        return not self.problems

    def copied(self, rules: Rules = RULES) -> bool:
        """Close to a copy of its quotes: nothing for a judge to catch that the rules did not."""
        return self.similarity >= rules.verbatim and self.coverage == 1.0


def attribute(
    claim: str,
    claim_vector: np.ndarray,
    candidates: Sequence[Candidate],
    vectors: np.ndarray,
    *,
    question: str,
    headline: Callable[[str], str],
    common: Callable[[str], bool],
    hints: Sequence[int] = (),
    question_vector: np.ndarray | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    rules: Rules = RULES,
) -> Attribution:
    """The quotes that back ``claim``, and what is wrong with it if anything.

    Candidates are ranked by similarity + ``lexical_weight`` × coverage of what the claim
    adds to the question (+ a bonus when the model cited their unit). The best is the first
    quote; while the claim has numbers or names its quotes lack, the next-ranked candidate
    that holds some of them and is itself similar enough to the claim is added, if it is a
    near neighbour of the first quote in the same article (a name in the sentence before,
    not "the EU" from another paragraph under someone else's words). The
    claim is kept when every number and name is grounded (quotes, the question's dates, or the
    cited articles' ``headline(doc_id)``), its best quote is similar enough, that grounding holds
    enough of what the claim adds to the question, as a whole and in each clause (a clause
    the quotes lack brings in a candidate that holds it), and (given ``question_vector``) the
    claim is about the question. A long quote whose whole is not similar enough may still
    be, in the clauses the claim restates, given ``embed``. A yes-or-no question (``polar``)
    grounds nothing: the claim is judged on all it says.
    """
    result = Attribution(claim)
    if not candidates:
        result.problems.append("no source sentence to compare it with")
        return result
    given = "" if polar(question) else question  # what the claim may restate without support
    similarity = vectors @ claim_vector
    lexical = np.array([coverage(claim, c.text, given=given) for c in candidates])
    bonus = np.array([rules.hint_bonus * (c.unit in hints) for c in candidates])
    order = np.argsort(-(similarity + rules.lexical_weight * lexical + bonus), kind="stable")
    best = int(order[0])
    result.quotes.append(candidates[best])

    def quoted() -> str:
        return "\n".join(q.text for q in result.quotes)

    def grounding() -> str:
        heads = dict.fromkeys(headline(q.doc_id) for q in result.quotes)
        return "\n".join([asked_dates(given), quoted(), *heads])

    terms = numbers(claim), names(claim, common)
    missing = absent(*terms, grounding())

    def near(i: int) -> bool:  # two sentences far apart, glued, can say what neither says
        return candidates[i].doc_id == candidates[best].doc_id and abs(i - best) <= rules.quote_window

    for i in order[1 : rules.search_depth]:
        if not missing or len(result.quotes) >= rules.max_quotes:
            break
        if not near(int(i)):
            continue
        similar = similarity[int(i)] >= rules.min_similarity  # "August 10" does not ground "fell 10%"
        if similar and set(missing) - set(absent(*terms, candidates[int(i)].text)):
            result.quotes.append(candidates[int(i)])
            missing = absent(*terms, grounding())
    part, held = weakest_part(claim, grounding(), given, rules.min_part_terms)
    for i in order[1 : rules.search_depth]:  # a clause from another sentence needs that sentence too
        if held >= rules.min_coverage or len(result.quotes) >= rules.max_quotes:
            break
        other = candidates[int(i)]
        if not near(int(i)):
            continue
        backs = coverage(part, other.text, given=given) >= rules.min_coverage
        if backs and similarity[int(i)] >= rules.min_similarity and other not in result.quotes:
            result.quotes.append(other)
            part, held = weakest_part(claim, grounding(), given, rules.min_part_terms)
    if missing:
        result.problems.append(f"{', '.join(missing)} not in its sources")
    if negated(claim) != negated(quoted()):
        result.problems.append("it says no where its quotes say yes, or yes where they say no")
    if overstated(claim, [q.text for q in result.quotes]):
        result.problems.append(OVERSTATED)
    if promised(claim, [q.text for q in result.quotes]):
        result.problems.append(PROMISED)
    result.problems += [f"it says {swap}" for swap in swapped_roles(claim, quoted())]
    result.problems += [f"it has {swap}" for swap in swapped_actors(claim, quoted(), common)]
    result.similarity = result.part_similarity = float(similarity[best])
    parts = clauses(candidates[best].text) if embed and result.similarity < rules.min_similarity else []
    if parts:
        result.part_similarity = max(result.similarity, float(np.max(embed(parts) @ claim_vector)))
    result.coverage = coverage(claim, grounding(), given=given)
    if result.part_similarity < rules.min_similarity:
        result.problems.append(f"no source sentence states it (best similarity {result.part_similarity:.2f})")
    if result.coverage < rules.min_coverage:
        result.problems.append(f"its sources hold only {result.coverage:.0%} of what it adds to the question")
    elif held < rules.min_coverage:
        result.problems.append(f"its sources hold only {held:.0%} of “{part}”")
    if not content_terms(claim) - content_terms(question):  # to a yes-or-no question, a bare yes
        result.problems.append(RESTATES)
    if question_vector is not None:
        result.relevance = float(question_vector @ claim_vector)
        if result.relevance < rules.min_relevance:
            result.problems.append(f"it is not about the question (similarity {result.relevance:.2f})")
    return result
