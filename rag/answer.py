"""Turn the model's text into an ``Answer``: each sentence attributed, grounded and cited.

The model never types a quote, and its ``[n]`` is only a hint. ``AnswerBuilder`` takes
each answer sentence as soon as it is complete, asks ``attribute`` for the source
sentences that back it, and keeps it only if they really do; a quote is the source
text at exact offsets. So a stream built from ``feed`` shows only checked claims.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .attribute import (
    FINAL_STOP,
    LEANS_BACK,
    RESTATES,
    RULES,
    Attribution,
    Candidate,
    Rules,
    attribute,
    conjuncts,
)
from .chunking import split_sentences
from .modality import OVERSTATED, PROMISED
from .prompts import ANSWER_SENTENCES
from .questions import (
    about_parts,
    asked_kind,
    gives_kind,
    open_parts,
    polar,
    question_parts,
    speaker,
    unsettled,
)
from .schema import Answer, Citation, Document, Source
from .terms import content_terms, headline

# Also when the model's claims were all dropped: it says what was found, not what the articles hold.
ABSTAIN_TEXT = (
    "The sources don't say. No answer to this question could be backed by a quote from the articles."
)
# After an answer, for each part of the question it leaves open. It tells what was found, not
# what the articles hold: the model may have missed a part they answer.
UNTOLD = "No quoted answer was found for “{}”"
MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# "Yes, …", "No. …": the model's verdict on a yes-or-no question, which no quote states. It is
# cut off, and what follows is checked like any claim: asked one, the small model says "Yes,
# <the question as a statement>" whatever its sources hold.
PARTICLE = re.compile(r"^(?:yes|no)\s*[,.;:!—–-]+\s*", re.IGNORECASE)
# how a model says it cannot answer: "The articles do not mention ...", "No information ..."
ABSTAIN = re.compile(
    r"\b(sources?|articles?|context|texts?|passages?|information provided)\b[^.]*?"
    r"\b(do not|don't|does not|doesn't|did not|didn't)\b[^.]*?"
    r"\b(say|answer|mention|contain|provide|specify|state|include|address|cover|give)"
    r"|\bno (information|mention|details?)\b|\bnot (mentioned|specified|stated|provided)\b"
    r"|\bcannot (answer|determine|be determined)\b|\bunable to (answer|determine|find)\b",
    re.IGNORECASE,
)
# After this many unbacked claims in a row the model is inventing, not reading: the rest of its
# text is not read (and not generated). On dev and extra it cut only invented claims.
MAX_DROPPED_IN_A_ROW = 2
# Sentences a pass that takes up one open part of the question may add (``AnswerBuilder.take_up``).
PART_SENTENCES = 2
# A sentence that says the same six words twice is a model caught in a loop ("…Staff reported
# that the EU … Staff reported that the EU …"): it would run to the token budget.
LOOP_WORDS = 6
LEADING_MARKS = re.compile(r"(?:\[[\d\s,;]+\]\s*)+")
GLUED_MARK = re.compile(r"([.!?][\"'”’)]*)(?=\[\d)")  # "rose.[1]"
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


def with_marks(claim: str, marks: str) -> str:
    """``("Talks were held.", "[1]")`` -> ``"Talks were held [1]."``; ``"…to the U.S. [1]"``.

    A claim glued from two sentences, checked as one because the model's mark stood between
    them ("…to the U.S. [2] Like rare earths, …"), gets the marks after each, so that no
    sentence of the answer as shown is without them.
    """
    return " ".join(_marked(sentence, marks) for sentence in split_answer(claim) or [claim])


def _marked(sentence: str, marks: str) -> str:
    stop = FINAL_STOP.search(sentence)
    cut = stop.start() if stop and not INITIALISM_END.search(sentence) else len(sentence)
    return f"{sentence[:cut]} {marks}{sentence[cut:]}"


def hints(sentence: str) -> tuple[str, list[int]]:
    """The sentence without its markers, and the numbers they name: ``"A [2, 3]." -> ("A.", [2, 3])``."""
    numbers = [int(x) for m in MARKER.finditer(sentence) for x in re.split(r"[,;]", m.group(1))]
    return MARKER.sub("", sentence).strip(), list(dict.fromkeys(numbers))


def looping(sentence: str, n: int = LOOP_WORDS) -> bool:
    """Whether some run of ``n`` words occurs twice in ``sentence``."""
    words = sentence.casefold().split()
    runs = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(runs)) < len(runs)


def is_untold(sentence: str) -> bool:
    """Whether an answer sentence is the note on a part left open (``UNTOLD``)."""
    return sentence.startswith(UNTOLD.split("{")[0])


def is_abstention(text: str) -> bool:
    """True when every sentence says, in some words, that the sources do not answer."""
    sentences = split_answer(MARKER.sub("", text))
    return not sentences or all(ABSTAIN.search(s) for s in sentences)


def abstained(question: str, model: str, timings: dict, reason: str = "") -> Answer:
    warnings = [reason] if reason else []
    return Answer(question, ABSTAIN_TEXT, abstained=True, timings=timings, model=model, warnings=warnings)


@dataclass
class Sources:
    """What attribution compares claims with: candidate sentences, their vectors, and the corpus."""

    candidates: list[Candidate]
    vectors: np.ndarray
    documents: dict[str, Document]
    embed: Callable[[list[str]], np.ndarray]
    common: Callable[[str], bool]  # is this lower-case word common in the corpus (not a name)?
    # P(yes) that the quotes, from articles published on the date given, state the claim
    verify: Callable[[str, list[str], str], float | None] | None = None

    def headline(self, doc_id: str) -> str:
        """The article's headline and date line, which count as grounding."""
        doc = self.documents[doc_id]
        return headline(doc.title, doc.published)

    def dated(self, quotes: list[Candidate]) -> str:
        """When the quotes' articles were published: ``"June 11, 2025"`` ("" if unknown)."""
        days = dict.fromkeys(self.documents[q.doc_id].published for q in quotes)
        return " and ".join(f"{d:%B} {d.day}, {d.year}" for d in days if d)


class AnswerBuilder:
    """Checks answer sentences as they complete and assembles the final ``Answer``."""

    def __init__(self, question: str, sources: Sources, rules: Rules = RULES, also_asked: str = ""):
        self.question, self.sources, self.rules = question, sources, rules
        self.asked = f"{question}\n{also_asked}"  # its terms count as grounding
        self.done = 0  # sentences of the raw text already taken
        self.kept: list[str] = []  # as shown, with citation markers
        self.claims: list[str] = []  # the same, bare
        self.question_vector = sources.embed([question])[0]
        self.order: dict[Candidate, int] = {}  # quote -> citation number
        self.warnings: list[str] = []
        self.seen: set[str] = set()  # claims already taken, case and spacing folded
        self.dropped_in_a_row = 0
        self.stopped = ""  # why the rest of the model's text is not worth reading
        self.untold: list[str] = []  # by ``finish``: parts of the question the answer leaves open
        self.position = {c: i for i, c in enumerate(sources.candidates)}  # candidates run in article order
        self.parts = question_parts(question)  # what this pass's claims answer (``_speaker``)
        self.last_quotes: list[Candidate] = []  # of the last kept claim
        self.most = ANSWER_SENTENCES  # kept sentences after which this pass's text is not read
        self.kind: str | None = None  # what a pass that takes up one part must give (``take_up``)
        self.ended = False  # this pass's text has been checked to its end

    def feed(self, raw: str, final: bool = False, cut_off: bool = False) -> list[str]:
        """Check the sentences of ``raw`` completed since the last call; return those kept.

        With ``final``, the last sentence counts too, unless the answer budget cut it off
        (``cut_off``) before its full stop: half a claim is not a claim.
        """
        sentences = split_answer(raw)
        if final and cut_off and sentences and not FINAL_STOP.search(hints(sentences[-1])[0]):
            self.warnings.append(f"dropped “{hints(sentences[-1])[0]}”: cut off unfinished")
            sentences.pop()
        complete = sentences if final else sentences[:-1]
        new = []
        for sentence in complete[self.done :]:
            if not self.stopped:
                new += self._check(sentence)
        self.done = max(self.done, len(complete))
        if not final and sentences and looping(sentences[-1]):
            self.stopped = "the model repeated itself"
        return new

    def _check(self, sentence: str) -> list[str]:
        """The sentence as kept, with its citation marks: whole, or as the statements it
        joins (``conjuncts``) that are backed when the whole is not; [] when nothing is."""
        bare, cited = hints(sentence)
        if verdict := PARTICLE.match(bare):
            self.warnings.append(f"cut “{verdict.group().strip()}”: a yes or no that no quote states")
            bare = bare[verdict.end() :]
            bare = bare[:1].upper() + bare[1:]
        if not any(ch.isalnum() for ch in bare) or ABSTAIN.search(bare):
            return []
        folded = " ".join(bare.casefold().split())
        if folded in self.seen:
            self.stopped = "the model repeated itself"
            return []
        self.seen.add(folded)
        results = [self._attributed(bare, cited)]
        if not results[0].kept and len(pieces := conjuncts(bare, self.rules.min_part_terms)) > 1:
            split = [self._attributed(piece, cited) for piece in pieces]
            results = split if any(r.kept for r in split) else results
        results = [self._quoted(result) for result in results]
        kept = []
        for result in results:
            if result.kept:
                self._check_in_context(result)
            if not result.kept:
                self.warnings.append(f"dropped “{result.claim}”: {'; '.join(result.problems)}")
                self.dropped_in_a_row += 1
                if self.dropped_in_a_row >= MAX_DROPPED_IN_A_ROW:
                    self.stopped = f"{MAX_DROPPED_IN_A_ROW} claims in a row had no backing"
                continue
            self.dropped_in_a_row = 0
            numbers = [self.order.setdefault(q, len(self.order) + 1) for q in result.quotes]
            kept.append(with_marks(result.claim, "".join(f"[{n}]" for n in dict.fromkeys(numbers))))
            self.claims.append(result.claim)
            self.last_quotes = result.quotes
        self.kept += kept
        if len(self.kept) >= self.most:
            self.stopped = f"the answer has the {self.most} sentences asked for"
        return kept

    def _quoted(self, result: Attribution) -> Attribution:
        """To a yes-or-no question, a claim that only restates it is a bare yes. When nothing
        else is wrong with it but that its quote hedges or only promises it, the quote says
        what the articles hold about the question in their own words ("…that it would process
        rare earth export licenses…" for "China has approved the applications"): the quote
        itself, verbatim, takes the claim's place, unless it is cited already."""
        worded = {RESTATES, OVERSTATED, PROMISED}
        if not (polar(self.question) and RESTATES in result.problems and set(result.problems) <= worded):
            return result
        quote = result.quotes[0]
        if quote in self.order:
            return result
        self.warnings.append(f"“{result.claim}” only restates the question: its quote is given instead")
        return replace(result, claim=quote.text, quotes=[quote], problems=[])

    def end(self, raw: str, cut_off: bool = False) -> None:
        """Check the last sentence of this pass's text ``raw`` (see ``feed``); once per pass."""
        if self.ended:
            return
        self.ended = True
        self.feed(raw, final=True, cut_off=cut_off)
        if self.stopped:
            self.warnings.append(f"stopped reading the answer: {self.stopped}")

    def left_open(self) -> list[str]:
        """The parts of a question of several that the claims kept so far leave open, when they
        answer some other part; [] otherwise (all parts open means no answer, see ``finish``)."""
        if not self.kept:
            return []
        parts = [part for part, _ in self._open()]
        return parts if len(parts) < len(question_parts(self.question)) else []

    def take_up(self, part: str) -> None:
        """Start a new pass: the model answers ``part`` (one of ``left_open``) on its own, in
        at most ``PART_SENTENCES`` more sentences, checked like the first pass's but about
        ``part``, and giving the kind of answer it asks for, if any: a sentence on another
        part, or one without a price for "What price will buyers pay?", is not what this
        pass is for."""
        self.done, self.dropped_in_a_row, self.stopped, self.ended = 0, 0, "", False
        self.question_vector = self.sources.embed([part])[0]
        self.kind = asked_kind(part)
        self.parts = [part]
        self.last_quotes = []
        self.most = len(self.kept) + PART_SENTENCES

    def _open(self) -> list[tuple[str, str]]:
        """``open_parts`` of the question for the claims kept so far."""
        return open_parts(self.question, self.claims, self._cited(), self.sources.common)

    def _cited(self) -> list[str]:
        """The outlet, headline and text of each article cited so far ("What did Reuters report?")."""
        docs = [self.sources.documents[d] for d in dict.fromkeys(q.doc_id for q in self.order)]
        return [f"{d.outlet or ''}\n{d.title}\n{d.text}" for d in docs]

    def _check_in_context(self, result: Attribution) -> None:
        """Add the problems a backed claim has as a sentence of this answer to this question."""
        if LEANS_BACK.match(result.claim) and self.last_quotes and not self._follows(result.quotes):
            result.problems.append(f"it leans on “{self.claims[-1]}”, which its quote does not follow")
        if (who := self._speaker(result.claim)) and not self._said_by(who, result.claim, result.quotes):
            result.problems.append("its quote is not what the question's speaker said")
        if self.kind and not gives_kind(result.claim, self.kind, self.question, self.sources.common):
            result.problems.append(f"it does not give {self.kind}, which the part it answers asks for")
        if self.kept and self._beside(result):
            result.problems.append(
                f"after the answer's first sentence, it shares no word with the question and is not "
                f"close to it ({result.relevance:.2f})"
            )

    def _beside(self, result: Attribution) -> bool:
        """Whether a claim is only on the question's topic: it shares no word with the question
        and is less similar to it than ``rules.min_further_relevance``. Once the answer has
        begun, the model pads it with such sentences ("The proposal will now be submitted to
        both leaders" after the date of the presidents' call); a first sentence is held only
        to ``min_relevance``, as the one answer the model found."""
        unworded = not content_terms(result.claim) & content_terms(self.asked)
        return unworded and result.relevance < self.rules.min_further_relevance

    def _speaker(self, claim: str) -> set[str]:
        """Whose words ``claim`` must report: the speakers of the "What did X say…?" parts it
        may answer (``about_parts``), when every such part asks for one; else nobody."""
        asked = [speaker(self.parts[i]) for i in about_parts(claim, self.parts)]
        return set().union(*asked) if asked and all(asked) else set()

    def _said_by(self, who: set[str], claim: str, quotes: list[Candidate]) -> bool:
        """For "What did Lutnick say…?": whether the claim, its quotes, the sentence before
        each in its article ("Lutnick spoke. He said…") or the article's outlet ("What did
        Reuters report?") name the speaker (``who``)."""
        texts = [claim]
        for q in quotes:
            i = self.position[q]
            texts += [c.text for c in self.sources.candidates[max(0, i - 1) : i + 1] if c.doc_id == q.doc_id]
            texts.append(self.sources.documents[q.doc_id].outlet or "")
        return bool(who & content_terms("\n".join(texts)))

    def _follows(self, quotes: list[Candidate]) -> bool:
        """Whether a claim that leans on the one before ("He said…", "In return, …") means
        what its quotes mean: they are the last claim's own sentences, or lean back too from
        at most ``quote_window`` sentences after them in the same article. "This delayed
        licensing", quoting a sentence before the last claim's, would borrow its "this"."""
        last = [self.position[q] for q in self.last_quotes]
        return all(
            q in self.last_quotes
            or (
                LEANS_BACK.match(q.text)
                and q.doc_id == self.last_quotes[0].doc_id
                and min(last) < self.position[q] <= max(last) + self.rules.quote_window
            )
            for q in quotes
        )

    def _attributed(self, claim: str, cited: list[int]) -> Attribution:
        """The claim's attribution (``_requoted``). The units the model ``cited`` are a hint,
        which can tip the ranking to a sentence of the wrong article ("The strike began on
        June 2" to one saying the strike has not ended); when the claim fails with the hint,
        it is attributed again without it, unless its quote is from no unit it cited (the hint
        decided nothing)."""
        vector = self.sources.embed([claim])[0]
        result = self._requoted(claim, vector, cited)
        if result.kept or not result.quotes or result.quotes[0].unit not in cited:
            return result
        unhinted = self._requoted(claim, vector, [])
        return unhinted if unhinted.kept else result

    def _requoted(self, claim: str, vector: np.ndarray, cited: list[int]) -> Attribution:
        """The claim's attribution, checked by the model's judge when there is one.

        When the judge finds that the quotes do not state the claim, or they hedge or only
        promise what it states and nothing else is wrong, the claim may still be stated by a
        sentence the ranking put lower ("the two presidents' phone call on June 5" below "The
        conversation, held on 5 June"; "six-month export licences" below "may only be valid
        for six months"): the best quote is set aside and attribution runs again, up to
        ``rules.requotes`` times. Each new choice must pass every rule and the judge in turn;
        when none does, the first verdict is reported.
        """
        pool = list(range(len(self.sources.candidates)))
        first = None
        for _ in range(1 + self.rules.requotes):
            result = attribute(
                claim,
                vector,
                [self.sources.candidates[i] for i in pool],
                self.sources.vectors[pool],
                question=self.asked,
                headline=self.sources.headline,
                common=self.sources.common,
                hints=cited,
                question_vector=self.question_vector,
                embed=self.sources.embed,
                rules=self.rules,
            )
            worded = result.problems and set(result.problems) <= {OVERSTATED, PROMISED}
            if not worded:  # else only its quote's wording (hedged, or promised) is wrong: try the next
                if not result.kept or self.sources.verify is None or result.copied(self.rules):
                    break
                quotes = [q.text for q in result.quotes]
                p = self.sources.verify(claim, quotes, self.sources.dated(result.quotes))
                if p is None or p >= self.rules.min_entailment:
                    break
                result.problems.append(f"the model judges that its quotes do not state it (p={p:.2f})")
            first = first or result
            pool.remove(self.position[result.quotes[0]])
        return result if result.kept or first is None else first

    def finish(self, raw: str, model: str, timings: dict, cut_off: bool = False) -> Answer:
        """The answer, after ``raw``, the text of the last pass (``end`` it if not yet done)."""
        if not self.kept and is_abstention(raw):
            return abstained(self.question, model, timings, "the model found no answer in the sources")
        self.end(raw, cut_off)
        why = "" if self.kept else "no claim of the answer was backed by its sources"
        left_open = self._open() if self.kept else []
        if left_open and len(left_open) == len(question_parts(self.question)):
            why = left_open[0][1]
        if self.kept and (loose := unsettled(self.question, self.claims, self._cited(), self.sources.common)):
            asked = ", ".join(f"“{term}”" for term in loose)
            why = f"the question asks yes or no about {asked}, which the answer neither states nor corrects"
        if why:
            answer = abstained(self.question, model, timings, why)
            answer.warnings[:0] = self.warnings
            return answer
        citations = [self._citation(n, quote) for quote, n in self.order.items()]
        sources = list({c.doc_id: Source.of(self.sources.documents[c.doc_id]) for c in citations}.values())
        self.untold = [UNTOLD.format(part) for part, _ in left_open]  # the rest is answered
        return Answer(
            self.question,
            " ".join(self.kept + self.untold),
            citations,
            sources=sources,
            timings=timings,
            model=model,
            warnings=self.warnings,
        )

    def _citation(self, n: int, q: Candidate) -> Citation:
        """The quote is cut from the document again and must equal the sentence attribution compared."""
        doc = self.sources.documents[q.doc_id]
        quote = doc.text[q.start : q.end]
        return Citation(
            n, q.doc_id, doc.title, doc.outlet, doc.published, quote, q.start, q.end, quote == q.text
        )


def candidates_for(
    spans: Sequence[tuple[str, int, int]], documents: dict[str, Document], units: Sequence
) -> list[Candidate]:
    """Candidate sentences, each tagged with the unit (article or passage) that contains it."""
    out = []
    for doc_id, start, end in spans:
        unit = next((u.n for u in units if u.doc_id == doc_id and u.start <= start and end <= u.end), None)
        out.append(Candidate(doc_id, start, end, documents[doc_id].text[start:end], unit))
    return out
