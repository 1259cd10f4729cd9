"""Negation, hedges and promises: what a claim must not state more surely than its quotes."""

from __future__ import annotations

import pytest

from rag.modality import overstated, promised

COST = (
    "The chamber warned that the strike could cost exporters up to 40 million euros a week if it continues."
)


@pytest.mark.parametrize(
    "claim, quote, overstates",
    [
        ("Shipments resumed.", "Shipments could resume, analysts said.", True),
        ("The US will lift restrictions.", "In return, the US is expected to lift restrictions.", True),
        ("China will approve the licences.", "If China approves the licences, shipments could resume.", True),
        ("The licences are valid for six months.", "The licences may only be valid for six months.", True),
        ("The US plans to diversify its supply.", "The US plans to diversify its supply.", False),
        ("Shipments may resume.", "Shipments could resume, analysts said.", False),  # hedged in other words
        ("China approved licences.", "China approved licences, and shipments may resume soon.", False),
        ("Talks were held in May.", "Talks were held in May in Geneva.", False),  # a month
        # a condition does not stand for a "could", nor the other way round
        ("The strike has cost the economy 40 million euros if it continues.", COST, True),
        ("The strike could cost exporters 40 million euros a week.", COST, True),
        ("The strike may cost exporters 40 million euros a week if it continues.", COST, False),
    ],
)
def test_a_claim_must_not_state_as_fact_what_its_quote_hedges(claim, quote, overstates):
    """The hedge that counts is in the clause of the quote the claim restates."""
    assert overstated(claim, [quote]) is overstates


@pytest.mark.parametrize(
    "claim, quote, words",
    [
        ("China approved the licences.", "China will approve licences.", ["approved"]),
        (
            "The US took down its countermeasures.",
            "Once they deliver, we'll take down our countermeasures.",
            ["took"],
        ),
        (
            "The proposal was submitted to both leaders.",
            "The proposal will now be submitted to both leaders.",
            ["submitted"],
        ),
        ("China approved some licences.", "China approved some and will approve more.", []),
        ("Ford halted production.", "Ford was forced to halt production.", []),
        ("China agreed to approve licences.", "China will approve licences.", []),
        ("China approved the licences.", "China has agreed to approve licences.", ["approved"]),
        ("The US eased curbs.", "The US pledged to ease curbs.", ["eased"]),
        ("It signed a deal.", "It will sell. It signed a deal.", []),
        ("A deal was negotiated by August 10.", "A deal is to be negotiated by August 10.", ["negotiated"]),
        ("China delivered rare earths.", "They're going to deliver rare earths to us.", ["delivered"]),
        ("The licences expired.", "The licences are set to expire in July.", ["expired"]),
        ("China increased scrutiny.", "Delays were due to increased scrutiny.", []),  # no schedule
    ],
)
def test_promised_finds_past_verbs_the_quotes_only_promise(claim, quote, words):
    assert promised(claim, [quote]) == words
