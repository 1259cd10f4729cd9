"""Hybrid retrieval (dense + BM25, fused by reciprocal rank) and evidence selection.

``Retriever.retrieve(question)`` returns the ranked chunk hits, the numbered
evidence passages the answer step may cite, and a relevance signal saying
whether the corpus holds anything that bears on the question.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import dataclass

import numpy as np

from .attribute import LEANS_BACK
from .embedder import Embedder
from .index import VectorIndex
from .injection import addressed_to_assistant
from .modality import negated
from .schema import Evidence, Hit
from .terms import content_terms, number_words, numbers

RRF_K = 60
CANDIDATES = 30  # chunks each retriever contributes before fusion
SAME_DOC_PENALTY = 0.15  # diversity: cost of another chunk from an already chosen document
LEXICAL_WEIGHT = 0.3  # weight of the IDF-weighted share of question terms in a sentence's score
HEADING_PENALTY = 0.1  # lines without final punctuation (headlines, bylines) say little
NEIGHBOUR = 0.75  # a sentence inherits this share of its neighbours' score: passages are coherent
WEAKEST = 0.5  # evidence scores at least this share of the best sentence's score: the rest is noise
MIN_WORDS = 4  # shorter lines ("Table of Contents", "Date:") support no claim on their own
FINAL_STOP = re.compile(r"[.!?][\"”’')\]]*$")
ASKS = re.compile(r"\?[\"”’')\]]*$")  # a sentence that asks ("Will China resume shipments?") states nothing

# The relevance signal.
MIN_SIMILARITY = 0.30  # below this best question–sentence similarity, nothing is on topic
UNKNOWN_NAME_SIMILARITY = 0.50  # names unknown to the corpus only count when similarity is also modest
QUESTION_WORDS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "did",
    "does",
    "do",
    "is",
}

# -- pure helpers ------------------------------------------------------------------


def rrf(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: ``[[3, 1], [1]] -> {3: 1/61, 1: 1/62 + 1/61}``."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def diverse(ranked: list[int], scores: dict[int, float], doc_of: dict[int, str], k: int) -> list[int]:
    """Greedy pick by score, each already-picked chunk of the same document costing a penalty.

    Scores are scaled to [0, 1] first so the penalty means the same for any corpus.
    """
    if not ranked:
        return []
    low, top = min(scores[c] for c in ranked), max(scores[c] for c in ranked)
    rel = {c: (scores[c] - low) / ((top - low) or 1.0) for c in ranked}
    picked: list[int] = []
    per_doc: dict[str, int] = {}
    pool = list(ranked)
    while pool and len(picked) < k:
        best = max(pool, key=lambda c: rel[c] - SAME_DOC_PENALTY * per_doc.get(doc_of[c], 0))
        picked.append(best)
        pool.remove(best)
        per_doc[doc_of[best]] = per_doc.get(doc_of[best], 0) + 1
    return picked


def smooth(scores: np.ndarray, same_doc_as_next: np.ndarray, share: float = NEIGHBOUR) -> np.ndarray:
    """Each sentence scores at least ``share`` of a neighbour's score in the same document.

    ``smooth([0.2, 1.0, 0.1], [True, False])`` -> ``[0.9, 1.0, 0.1]``.
    """
    out = scores.copy()
    link = np.asarray(same_doc_as_next, dtype=bool)
    out[:-1][link] = np.maximum(out[:-1][link], share * scores[1:][link])
    out[1:][link] = np.maximum(out[1:][link], share * scores[:-1][link])
    return out


def gist(text: str) -> frozenset[str]:
    """What a sentence says, as far as its words go: its content terms, figures by value,
    aliases folded, and whether it negates. Another outlet's copy of a wire story's sentence
    has the same gist: ``gist("The U.S. will ease 2 curbs.") == gist("The US will ease two curbs")``.
    """
    terms = {t for t in content_terms(number_words(text)) if not t.isdigit()} | numbers(text)
    if not terms:  # nothing but stop words: only the same words are the same sentence
        return frozenset([" ".join(text.lower().split())])
    return frozenset(terms | ({"<not>"} if negated(text) else set()))


def names_in(question: str) -> list[str]:
    """Capitalised words (not the first), acronyms and numbers: what a question is specifically about.

    ``"Who won the 2022 FIFA World Cup?"`` -> ``["2022", "FIFA", "World", "Cup"]``.
    """
    words = re.findall(r"[\w'’.-]+", question)
    return [w.strip(".'’") for w in words[1:] if w[0].isupper() or w[0].isdigit()]


# -- the retriever -------------------------------------------------------------------


@dataclass
class Retrieval:
    question: str
    hits: list[Hit]
    evidence: list[Evidence]
    relevant: bool
    relevance: float  # best question–sentence similarity in the corpus
    why: str  # the relevance verdict in words
    ms: float = 0.0


class Retriever:
    def __init__(
        self, index: VectorIndex, embedder: Embedder, *, use_dense: bool = True, use_lexical: bool = True
    ):
        import bm25s
        import Stemmer

        self.index, self.embedder = index, embedder
        self.use_dense, self.use_lexical = use_dense, use_lexical
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        if index.chunks:
            self._bm25.index(self.terms([c.text for c in index.chunks]), show_progress=False)
        self._doc_of = {i: c.doc_id for i, c in enumerate(index.chunks)}
        self.sentences = index.sentences
        texts = [self._text(s) for s in self.sentences]
        self._sentence_terms = [set(t) for t in self.terms(texts)]
        self._tokens = np.array([embedder.count_tokens(t) for t in texts], dtype=int)
        self._heading = np.array([not FINAL_STOP.search(t) for t in texts], dtype=bool)
        too_short = np.array([len(t.split()) < MIN_WORDS for t in texts], dtype=bool)
        asks = np.array([bool(ASKS.search(t)) for t in texts], dtype=bool)
        orders = np.array([addressed_to_assistant(t) for t in texts], dtype=bool)
        self._never_evidence = self._heading | too_short | asks | orders
        self._same_doc_as_next = np.array([a[0] == b[0] for a, b in itertools.pairwise(self.sentences)], bool)
        self._row = {(d, s): row for row, (d, s, _) in enumerate(self.sentences)}
        df: dict[str, int] = {}
        for terms in self._sentence_terms:
            for t in terms:
                df[t] = df.get(t, 0) + 1
        n = len(texts)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._max_idf = math.log((n + 1) / 0.5)
        self._words = {w.lower() for doc in index.documents.values() for w in re.findall(r"\w+", doc.text)}
        self.lowercase = {w for doc in index.documents.values() for w in re.findall(r"\b[a-z]+\b", doc.text)}
        self.quotable = ~self._never_evidence

    def _text(self, span: tuple[str, int, int]) -> str:
        d, a, b = span
        return self.index.documents[d].text[a:b]

    def terms(self, texts: list[str]) -> list[list[str]]:
        """Stemmed, stop-word-free terms, as BM25 sees them."""
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )

    def search(self, question: str, k: int, query: np.ndarray | None = None) -> list[Hit]:
        """Top ``k`` chunks by fused dense and BM25 rank, spread across documents."""
        n = len(self.index.chunks)
        if not n:
            return []
        depth = min(n, max(CANDIDATES, 3 * k))
        dense: list[int] = []
        lexical: list[int] = []
        if self.use_dense:
            query = self.embedder.embed([question])[0] if query is None else query
            dense = [i for i, _ in self.index.search(query, depth)]
        if self.use_lexical and (terms := self.terms([question])[0]):
            scores = self._bm25.get_scores(terms)
            lexical = [int(i) for i in np.argsort(-scores, kind="stable")[:depth] if scores[i] > 0]
        fused = rrf([dense, lexical])
        chosen = diverse(sorted(fused, key=lambda i: -fused[i]), fused, self._doc_of, k)
        d_rank = {c: r for r, c in enumerate(dense, 1)}
        l_rank = {c: r for r, c in enumerate(lexical, 1)}
        return [Hit(self.index.chunks[i], fused[i], d_rank.get(i), l_rank.get(i)) for i in chosen]

    def sentence_scores(self, question: str, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(similarity, score) of every indexed sentence for the question.

        score = similarity (dense, or 0 without it) + LEXICAL_WEIGHT × the IDF-weighted share
        of question terms in the sentence − HEADING_PENALTY for headlines, then smoothed
        over neighbouring sentences.
        """
        similarity = self.index.sentence_vectors @ query
        q_terms = set(self.terms([question])[0])
        weight = {t: self._idf.get(t, self._max_idf) for t in q_terms}
        total = sum(weight.values()) or 1.0
        lexical = np.array(
            [sum(weight[t] for t in q_terms & terms) / total for terms in self._sentence_terms]
        )
        if not self.use_lexical:
            lexical[:] = 0.0
        dense = similarity if self.use_dense else np.zeros_like(similarity)
        score = dense + LEXICAL_WEIGHT * lexical - HEADING_PENALTY * self._heading
        return similarity, smooth(score, self._same_doc_as_next)

    def select_evidence(self, hits: list[Hit], budget: int, score: np.ndarray) -> list[Evidence]:
        """The sentences of the hit chunks that bear most on the question, within ``budget`` tokens.

        Each numbered passage is one sentence, best first, so the model reads the
        strongest evidence first and every quote is short. Sentences scoring under WEAKEST
        times the best one's score are left out, so a focused question gets a short
        prompt (a faster answer) rather than a budget filled with noise. Headlines (lines
        without final punctuation), questions, lines of fewer than MIN_WORDS words and
        sentences addressed to the assistant (rag/injection.py) are never evidence. A
        sentence that leans on the one before it ("It", "In return") shares a passage with
        that one (unless that one is a headline); a sentence with the ``gist`` of one already
        chosen (another outlet's copy of a wire story) is skipped.
        """
        rows = sorted({self._row[(h.chunk.doc_id, s)] for h in hits for s, _ in h.chunk.sentences})
        rows = [r for r in rows if not self._never_evidence[r]]
        best = max((score[r] for r in rows), default=0.0)
        rows = [r for r in rows if score[r] >= best - (1 - WEAKEST) * abs(best)]  # scores may be < 0
        passages: list[list[int]] = []
        passage_of: dict[int, list[int]] = {}  # chosen row -> its passage
        seen: set[frozenset[str]] = set()
        used = 0
        for row in sorted(rows, key=lambda r: -score[r]):
            text = self._text(self.sentences[row])
            said = gist(text)
            if said in seen or row in passage_of:
                continue
            leans = (
                LEANS_BACK.match(text)
                and row > 0
                and self._same_doc_as_next[row - 1]
                and not self._never_evidence[row - 1]
            )
            earlier = passage_of.get(row - 1) if leans else None
            group = [row - 1, row] if leans and earlier is None else [row]
            cost = int(self._tokens[group].sum())
            if used + cost > budget:
                continue
            used += cost
            seen.add(said)
            if earlier is not None:  # joins the passage that ends with the sentence it leans on
                earlier.append(row)
                passage_of[row] = earlier
            else:
                passages.append(group)
                passage_of.update(dict.fromkeys(group, group))
        evidence = []
        for n, group in enumerate(passages, start=1):
            doc_id, start, _ = self.sentences[group[0]]
            end = self.sentences[group[-1]][2]
            evidence.append(Evidence(n, doc_id, self.index.documents[doc_id].text[start:end], start, end))
        return evidence

    def relevance(self, question: str, similarity: float, evidence: list[Evidence]) -> tuple[bool, str]:
        """Whether anything in the corpus bears on the question, and why (or why not)."""
        if not evidence:
            return False, "no evidence was found"
        if similarity < MIN_SIMILARITY:
            return False, f"no sentence is close to the question (best similarity {similarity:.2f})"
        names = names_in(question)
        unknown = [n for n in names if n.lower() not in self._words]
        if names and 2 * len(unknown) >= len(names) and similarity < UNKNOWN_NAME_SIMILARITY:
            return False, f"the articles never mention {', '.join(unknown)}"
        return True, f"best sentence similarity {similarity:.2f}"

    def retrieve(self, question: str, k: int, budget: int) -> Retrieval:
        started = time.perf_counter()
        query = self.embedder.embed([question])[0]
        hits = self.search(question, k, query)
        similarity, score = self.sentence_scores(question, query)
        evidence = self.select_evidence(hits, budget, score)
        best = float(similarity.max(initial=0.0))
        relevant, why = self.relevance(question, best, evidence)
        return Retrieval(
            question, hits, evidence, relevant, best, why, (time.perf_counter() - started) * 1000
        )
