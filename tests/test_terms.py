"""The terms a claim is checked on: numbers, dates, names, aliases and content words."""

from __future__ import annotations

from datetime import date

import pytest

from rag.terms import canonical, content_terms, coverage, headline, missing_terms, names, numbers, unmentioned

TRUMP = "Trump said China will supply all magnets and necessary rare earths to the U.S. up front."


def test_numbers_are_normalised_so_equal_amounts_match():
    assert numbers("10,000 tonnes, up 60.3%, six months, $1.2 billion, in 2025") == {
        "10000",
        "60.3",
        "6 month",
        "1200000000",
        "2025",
    }
    assert numbers("1,200 million") == numbers("1.2 billion") == {"1200000000"}
    assert numbers("the 5th of June") == {"5"}
    assert numbers("one of the largest") == set()  # "one" is not treated as a figure
    assert numbers("six-month licences") == numbers("for 6 months") == {"6 month"}


def test_a_duration_does_not_ground_a_count():
    """x17 of the extra set: "temporary six-month export licences" does not say six licences."""
    quote = "China issued temporary six-month export licences to three automakers."
    assert missing_terms("China approved six export licences.", quote) == ["6"]
    assert missing_terms("The licences are valid for six months.", quote) == []


def test_different_figures_never_match():
    """The external set cited '7,742.2 tons … up 60.3%' under a quote saying 353 tonnes, up 660%."""
    claim = "Exports reached 7,742.2 tons, up 60.3%."
    quote = "Exports of magnets reached 353 tonnes in May, up 660% from April."
    assert missing_terms(claim, quote) == ["60.3", "7742.2"]
    assert missing_terms("Exports reached 353 tonnes, up 660%.", quote) == []


def test_an_invented_number_month_and_name_are_caught():
    """The issue's example: nothing in Trump's sentence says 10,000, tonnes or July."""
    claim = "China shipped approximately 10,000 tonnes of rare earth magnets to the US in July 2025."
    assert missing_terms(claim, TRUMP) == ["2025", "10000", "July"]


def test_aliases_are_folded_to_one_name():
    assert canonical("Beijing and the U.S. agreed; American firms and the United States") == (
        "China and the US agreed; US firms and the US"
    )
    assert canonical("former U. S. President Trump") == "former US President Trump"  # as the model writes it
    assert missing_terms("Beijing will supply magnets to Washington.", TRUMP) == []
    assert missing_terms("The EU will supply magnets.", TRUMP) == ["EU"]


def test_a_common_first_word_is_not_a_name_but_a_rare_one_is():
    common = {"rare", "prices"}.__contains__
    assert names("Rare earth prices fell in London.", common) == {"London"}
    assert names("Ford halted Explorer production.", common) == {"Ford", "Explorer"}
    assert names("China's exports and the US-China talks", common) == {"China", "US"}


def test_question_and_headline_terms_count_as_grounding():
    """Restating the question ("in June 2025") is not a violation; a figure it lacks still is."""
    claim = "In June 2025, China agreed to supply magnets."
    question = "What did China agree to in June 2025?"
    assert missing_terms(claim, TRUMP) == ["2025", "June"]
    assert missing_terms(claim, question + "\n" + TRUMP) == []
    assert missing_terms(claim, headline("Rare earth deal", date(2025, 6, 28)) + "\n" + TRUMP) == []
    assert headline("Deal", date(2025, 6, 5)) == "Deal\nJune 5, 2025"
    assert headline("Deal", None) == "Deal"


def test_content_terms_and_coverage():
    assert content_terms("The licences expired in the United States") == {"licenc", "expir", "us"}
    assert coverage("Licences expire after six months.", "The licences expire after six months.") == 1.0
    assert coverage("Traders reacted positively.", "MOFCOM will expedite approvals.") == 0.0
    assert coverage("They spoke on June 5.", "The call was on 5 June.", given="When did they speak?") == 2 / 3


def test_restating_the_question_is_not_support():
    """x09 of the extra set: the question supplies "first shipments … arrive in the US"; the claim
    adds "expected" and "June 2025", which the quote does not hold. A claim adding nothing is
    judged on all its words."""
    question = "When will the first rare earth shipments under the deal arrive in the US?"
    claim = "The first rare earth shipments are expected to arrive in the US in June 2025."
    quote = "China will accelerate the export licensing of rare earths to the United States."
    assert coverage(claim, quote) > 0.3
    assert coverage(claim, quote, given=question) == 0.0
    assert (
        coverage("Shipments will arrive.", "Shipments will arrive soon.", given="When will shipments arrive?")
        == 1.0
    )


@pytest.mark.parametrize(
    "question, texts, missing",
    [
        ("Which Japanese carmaker halted production?", ["Ford halted production."], ["Japanese"]),
        ("Which Japanese carmaker halted production?", ["Japan's Toyota halted it."], []),
        ("What did Beijing and the U.S. agree?", ["China and Washington agreed."], []),
        ("What did the EU and Lutnick say?", ["Lutnick spoke.", "The E.U. spoke."], []),
        ("What did the EU and Lutnick say?", ["Lutnick spoke."], ["EU"]),
        ("What was agreed in London?", [], ["London"]),
        ("WHAT DID THE EU GIVE UP?", ["Ford halted production."], []),
        ("What Did The EU Give Up?", ["Ford halted production."], []),
    ],
)
def test_names_of_the_question_the_texts_never_mention(question, texts, missing):
    """Aliases fold, and a demonym is found in its country's name (the first five letters)."""
    assert unmentioned(question, texts) == missing
