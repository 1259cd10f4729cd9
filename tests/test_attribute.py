"""Attribution as pure functions, on sentences written for each rule."""

from __future__ import annotations

import numpy as np
import pytest

from rag.attribute import RULES, Candidate, attribute, conjuncts, weakest_part

from .test_terms import TRUMP


def candidates(*texts: str) -> list[Candidate]:
    return [Candidate("d", 100 * i, 100 * i + len(t), t, unit=i + 1) for i, t in enumerate(texts)]


def check(claim, cands, vectors, claim_vector, hints=(), question="What happened?", rules=RULES):
    return attribute(
        claim,
        np.asarray(claim_vector, float),
        cands,
        np.asarray(vectors, float),
        question=question,
        headline=lambda doc_id: "Headline",
        common={"rare", "the"}.__contains__,
        hints=hints,
        rules=rules,
    )


def test_the_best_matching_sentence_is_the_quote_and_a_hint_only_breaks_ties():
    cands = candidates("The licences are valid for six months.", "Ford halted Explorer production.")
    found = check("The licences are valid for six months.", cands, [[1, 0], [0, 1]], [1, 0], hints=[2])
    assert found.kept and found.quotes == [cands[0]]
    tie = check("Licences last six months.", cands, [[0.6, 0.8], [0.6, 0.8]], [0.6, 0.8], hints=[2])
    assert tie.quotes[0] == cands[0]  # lexical overlap outweighs the hint
    even = candidates("Talks went on.", "Talks went on.")
    assert check("Talks went on.", even, [[1, 0], [1, 0]], [1, 0], hints=[2]).quotes[0] == even[1]


def test_a_second_quote_is_added_for_a_name_the_first_lacks():
    cands = candidates(
        "China will approve export applications.",
        "Commerce Secretary Howard Lutnick spoke on Thursday.",
        "Ford halted production.",
    )
    claim = "Howard Lutnick said China will approve export applications."
    found = check(claim, cands, [[1, 0], [0.5, 0.5], [0, 1]], [1, 0])
    assert found.kept and found.quotes == cands[:2]


def test_a_further_quote_comes_from_near_the_first_in_the_same_article():
    """x11 of the extra set among 300 other articles: "The EU said the accord builds on …"
    took its words from one sentence and "EU" from one 23 sentences later."""
    far = [
        "The accord builds on previous discussions.",
        *(f"Filler sentence number {n} about ports." for n in range(5)),
        "Both the EU and Japan have launched their own initiatives.",
    ]
    cands = candidates(*far)
    vectors = [[1, 0], *([[0, 1]] * 5), [0.6, 0.8]]
    found = check("The EU said the accord builds on previous discussions.", cands, vectors, [1, 0])
    assert not found.kept and found.quotes == [cands[0]] and found.problems[0] == "EU not in its sources"
    near = check(
        "The EU said the accord builds on previous discussions.",
        cands[:1] + cands[6:],
        [[1, 0], [0.6, 0.8]],
        [1, 0],
    )
    assert near.quotes == [cands[0], cands[6]]


METALS = (
    "Like rare earths, these metals, which the US buys, are mostly produced in China and play an "
    "essential role in civilian and military applications."
)
GLUED = "China's export ban on critical minerals such as gallium and germanium to the U.S. " + METALS


def test_each_clause_of_a_claim_must_be_in_its_quotes():
    """x01 of the extra set, in evidence mode: two source sentences glued into one claim
    ("…to the U.S. Like rare earths…") cite only the second, which names no metal. The
    claim as a whole passes (its quote holds most of its terms); its first clause does not."""
    question = "Which metals did China ban from export to the US?"
    part = "China's export ban on critical minerals such as gallium and germanium to the U.S."
    assert weakest_part(GLUED, METALS, question, 3) == (part, 0.0)
    assert weakest_part("In exchange, the US agreed.", "In return, the US agreed.", "What?", 3) == ("", 1.0)
    cands = candidates(METALS, "Ford halted production.")
    found = check(GLUED, cands, [[1, 0], [0, 1]], [1, 0], question=question)
    assert found.coverage >= RULES.min_coverage
    assert found.problems == [f"its sources hold only 0% of “{part}”"]


def test_a_second_quote_is_added_for_a_clause_the_first_lacks():
    cands = candidates(
        METALS, "China's export ban on critical minerals such as gallium and germanium was lifted."
    )
    found = check(
        GLUED, cands, [[1, 0], [0.6, 0.8]], [1, 0], question="Which metals did China ban from export?"
    )
    assert found.kept and found.quotes == cands


def test_a_number_is_not_grounded_by_an_unrelated_sentence_that_happens_to_hold_it():
    """x12 of the extra set: "prices fell by 10%" must not borrow the 10 of "by August 10"."""
    cands = candidates(
        "Magnet prices were watched closely after the deal.", "Talks are due to end by August 10."
    )
    found = check("Magnet prices fell by 10% after the deal.", cands, [[1, 0], [0.1, 0.99]], [1, 0])
    assert not found.kept and found.quotes == [cands[0]] and found.problems[0] == "10 not in its sources"


def test_a_name_the_question_supplies_is_not_grounding_but_its_dates_and_numbers_are():
    """x11 of the extra set: "What did the EU say?" must not let "The EU said …" pass on a quote
    about someone else; "in June 2025" restated from a question is fine."""
    cands = candidates("The deal is a necessary step for supply chains, analysts said.")
    eu = check(
        "The EU said the deal is a necessary step.", cands, [[1, 0]], [1, 0], question="What did the EU say?"
    )
    assert not eu.kept and eu.problems[0] == "EU not in its sources"
    june = check(
        "In June 2025 the deal was a necessary step.",
        cands,
        [[1, 0]],
        [1, 0],
        question="What was it in June 2025?",
    )
    assert june.kept


def test_the_date_line_counts_toward_coverage_as_it_grounds_numbers():
    """d04 of the dev set: "on June 5, 2025" takes the year from the article's date line."""
    cands = candidates("The call, held on 5 June, laid the groundwork.")
    found = attribute(
        "The two presidents spoke by phone on June 5, 2025.",
        np.array([1.0, 0.0]),
        cands,
        np.array([[1.0, 0.0]]),
        question="When did the two presidents speak by phone?",
        headline=lambda doc_id: "Deal agreed\nJune 12, 2025",
        common=set().__contains__,
    )
    assert found.kept and found.coverage == 3 / 4  # "spoke" is the one term not held


def test_claims_with_ungrounded_terms_low_similarity_or_low_coverage_are_dropped():
    cands = candidates(TRUMP)
    invented = check("China shipped 10,000 tonnes of magnets in July.", cands, [[1, 0]], [1, 0])
    assert not invented.kept and invented.problems[0] == "10000, July not in its sources"
    unrelated = check("Magnets were supplied.", cands, [[1, 0]], [0, 1])
    assert not unrelated.kept and "no source sentence states it (best similarity 0.00)" in unrelated.problems
    garbled = check("They reacted positively by agreeing loudly.", cands, [[1, 0]], [1, 0])
    assert not garbled.kept and garbled.problems == [
        "its sources hold only 0% of what it adds to the question"
    ]


def test_no_candidates_means_nothing_backs_the_claim():
    found = check("Anything.", [], np.zeros((0, 2)), [1, 0])
    assert not found.kept and found.problems == ["no source sentence to compare it with"]


@pytest.mark.parametrize(
    "claim, problem",
    [
        ("The US gave up China's rare earth restrictions in the Geneva deal.", "Geneva"),
        ("Senator Smith criticised the deal.", "Senator, Smith"),
    ],
)
def test_names_missing_from_the_quote_are_named_in_the_problem(claim, problem):
    found = check(claim, candidates(TRUMP), [[1, 0]], [1, 0])
    assert problem in found.problems[0]


@pytest.mark.parametrize(
    "claim, pieces",
    [
        (
            "Trump and Xi spoke by phone on June 5, and a deal is to be negotiated by August 10.",
            ["Trump and Xi spoke by phone on June 5.", "A deal is to be negotiated by August 10."],
        ),
        (
            "China will approve export licences; the US will lift curbs on ethane.",
            ["China will approve export licences.", "The US will lift curbs on ethane."],
        ),
        (
            "JL Mag received export licences for the U.S. China banned gallium exports to the U.S.",
            ["JL Mag received export licences for the U.S.", "China banned gallium exports to the U.S."],
        ),
        (
            "China eased curbs on ethane, and more.",
            ["China eased curbs on ethane, and more."],
        ),  # "more" is no statement
        (
            "The US tightened curbs on chip software, aircraft, and other high-tech goods for China.",
            ["The US tightened curbs on chip software, aircraft, and other high-tech goods for China."],
        ),  # a list's last item is no statement
        (
            "China, the largest producer of rare earths, eased curbs, and the US lifted its tariffs.",
            ["China, the largest producer of rare earths, eased curbs, and the US lifted its tariffs."],
        ),  # taken for a list too: the whole sentence is checked
        (
            "China and the US agreed to ease curbs on ethane.",
            ["China and the US agreed to ease curbs on ethane."],
        ),
        (
            'He said "China will ease curbs, but the US will lift tariffs."',
            ['He said "China will ease curbs, but the US will lift tariffs."'],
        ),
    ],
)
def test_a_claim_is_cut_into_the_statements_it_joins(claim, pieces):
    """Only at "; " or a comma before and/but/while/whereas that ends no list, only when every
    piece has three terms, and never inside quoted words."""
    assert conjuncts(claim, 3) == pieces
