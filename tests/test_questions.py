"""What a question asks for: kinds of answer, parts, speakers, yes or no."""

from __future__ import annotations

import pytest

from rag.questions import (
    about_parts,
    asked_kind,
    gives_kind,
    open_parts,
    polar,
    question_parts,
    speaker,
    unsettled,
)


@pytest.mark.parametrize(
    "question, answer, gives",
    [
        ("When did they speak by phone?", "They spoke on 5 June.", True),
        ("When did they speak by phone?", "A phone call later paved the way for the deal.", False),
        ("When will shipments arrive?", "Shipments should arrive within weeks.", True),
        ("When will shipments arrive?", "Shipments will arrive after the talks.", False),
        ("When will shipments arrive?", "Shipments will arrive next month.", True),
        ("How many magnets were shipped?", "Twelve magnets were shipped.", True),
        ("How many magnets were shipped?", "Magnets were shipped.", False),
        ("When will shipments arrive?", "The world's two largest economies agreed.", False),
        ("When will shipments arrive?", "The deal may prompt a decision in the market.", False),
        ("When did talks end?", "Talks ended in March 2025.", True),
        ("What was the dollar value of the deal?", "They agreed during a call on June 5.", False),
        ("How many tonnes were shipped?", "China shipped 2,000 tonnes in June 2025.", True),
        ("How many export licences were approved?", "The deal came after two days of talks.", False),
        ("How many export licences were approved?", "The ministry approved 12 export licences.", True),
        ("With how many more partners does it want deals?", "It wants deals with ten other partners.", True),
        ("What was the dollar value of the deal?", "The world's two largest economies agreed.", False),
        ("What was the dollar value of the deal?", "The deal is worth $5 billion.", True),
        ("What fine do exporters face?", "Exporters face fines of up to 500,000 yuan.", True),
        ("How much did Tesla pay for magnets?", "Tesla paid for 3 shipments of magnets.", False),
        ("What share of processing does China control?", "China controls roughly 90% of it.", True),
        ("What share of processing does China control?", "China controls two thirds of it.", True),
        ("What share of processing does China control?", "China controls 12 plants.", False),
        ("Which mine in Myanmar does the militia protect?", "A militia protects mines in Myanmar.", False),
        ("Which carmaker halted production?", "Ford halted production of the Explorer.", True),
        ("Which US senator criticised the deal?", "The US and China have confirmed the deal.", False),
        ("Which US senator criticised the deal?", "Senator Jane Roe criticised the deal.", True),
        ("Which US senator criticised the deal?", "The Trump administration criticised it.", False),
        ("Which official spoke of the deal?", "The White House spoke of the deal.", False),
        ("Which official spoke of the deal?", "Lutnick's remarks were about the deal.", False),
        ("Which official spoke of the deal?", "Commerce Secretary Howard Lutnick spoke.", True),
        ("Which official spoke of the deal?", "Foreign Ministry Spokesperson Lin Jian spoke.", True),
        ("Which US senator criticised the deal?", "Ford Motor Company halted production.", False),
        ("Which US senator criticised the deal?", "Ford halted its Explorer SUV.", False),
        ("Which country did the US turn to?", "The US turned to China.", True),
    ],
)
def test_an_answer_must_give_the_kind_of_thing_asked_for(question, answer, gives):
    """A word that only orders events ("later", "earlier"), a count, or "may" does not say
    when; the day of a date is not an amount; a count is no sum of money or percentage; a
    place the question gives is not the name it asks for, and a country, an institution or a
    lone surname is not a person."""
    assert gives_kind(answer, asked_kind(question), question) is gives


def test_a_question_about_things_without_proper_names_asks_for_no_name():
    assert asked_kind("Which metals did China ban from export?") is None


@pytest.mark.parametrize(
    "question, terms",
    [
        ("What did Howard Lutnick say about the deal?", {"howard", "lutnick"}),
        ("What did China's foreign ministry say?", {"foreign", "ministri"}),
        ("What did Reuters report about the licences?", {"reuter"}),
        ("What did the US say?", set()),  # every article names it
        ("How did China respond?", set()),
    ],
)
def test_the_speaker_a_question_asks_about(question, terms):
    assert speaker(question) == terms


@pytest.mark.parametrize(
    "question, parts",
    [
        ("What did China agree to?", ["What did China agree to?"]),
        ("What did China and the US agree?", ["What did China and the US agree?"]),
        (
            "How long are licences valid, and what price will buyers pay?",
            ["How long are licences valid?", "What price will buyers pay?"],
        ),
        ("Who is Song Wendi and what did he call it?", ["Who is Song Wendi?", "What did he call it?"]),
        (
            "When did they speak? By what date is a deal due?",
            ["When did they speak?", "By what date is a deal due?"],
        ),
    ],
)
def test_a_question_that_joins_questions_is_read_as_its_parts(question, parts):
    assert question_parts(question) == parts


def test_a_claim_is_about_the_parts_it_shares_words_with_or_about_all():
    parts = ["When did Trump and Xi speak?", "By what date is a deal due?"]
    assert about_parts("The deal is due by August 10.", parts) == [1]
    assert about_parts("Trump and Xi spoke on June 5.", parts) == [0]
    assert about_parts("Talks ended on Friday.", parts) == [0, 1]  # no word of either
    assert about_parts("Anything at all.", ["What was agreed?"]) == [0]


def test_the_parts_of_a_question_the_claims_leave_open():
    """Each part asks for its own kind (a name answers the first part of this question, no sum
    of money the second), and names its own things (the first part's Japan is mentioned)."""
    question = "Which carmaker halted production, and how much did it pay for magnets?"
    money = "the question asks for a sum of money and no backed sentence gives one"
    assert open_parts(question, ["Ford halted production."], [], lambda w: False) == [
        ("How much did it pay for magnets?", money)
    ]
    both = ["Ford halted production and paid $5 for magnets."]
    assert open_parts(question, both, [], lambda w: False) == []
    left = open_parts(question, ["it halted production."], [], lambda w: False)
    assert [part for part, _ in left] == question_parts(question)
    question = "When did Trump and Xi speak, and by what date is a deal due?"
    due = ["Trump and Xi spoke.", "The deal is due by August 10."]
    left = open_parts(question, due, [], lambda w: False)
    assert [part for part, _ in left] == ["When did Trump and Xi speak?"]
    question = "Which Japanese carmaker halted output, and what did Toyota say?"
    assert open_parts(
        question, ["Mazda halted output."], ["Japan's Mazda halted output."], {"output"}.__contains__
    ) == [("What did Toyota say?", "the question names Toyota, which no cited article mentions")]


@pytest.mark.parametrize(
    "question, yes_or_no",
    [
        ("Did China approve the licences?", True),
        ("  Has the US lifted its curbs?", True),
        ("Were the talks held in London?", True),
        ("What did China approve?", False),
        ("Which carmaker halted production?", False),
        ("Didier Ross said what?", False),
    ],
)
def test_polar_questions_ask_yes_or_no(question, yes_or_no):
    assert polar(question) is yes_or_no


@pytest.mark.parametrize(
    "question, claims, cited, loose",
    [
        ("Did they speak on June 9?", ["They spoke by phone."], [], ["June 9"]),
        ("Did they speak on June 9?", ["They spoke on 5 June."], [], []),  # corrected
        ("Did they speak on June 9?", ["They spoke on June 9."], [], []),
        ("Are licences valid for two years?", ["Licences are valid for six months."], [], []),
        ("Are licences valid for two years?", ["Licences were issued on June 4."], [], ["2 year"]),
        ("Did Japan join the deal?", ["The US and China made a deal."], ["The US and China met."], ["Japan"]),
        ("Did Ford halt production?", ["Production halted."], ["Ford halted production."], []),
        ("Did Beijing agree?", ["China agreed."], [], []),  # aliases
        ("What happened on June 9?", ["Nothing."], [], []),  # not yes or no
    ],
)
def test_what_a_yes_or_no_question_asks_about_must_be_settled(question, claims, cited, loose):
    """Each date and figure stated or corrected by a claim, each name in a claim or a cited article."""
    assert unsettled(question, claims, cited) == loose
