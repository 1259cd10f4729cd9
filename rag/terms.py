"""The terms a claim is checked on: numbers, dates, proper names and content words.

Aliases are folded first (``ALIASES``), so "Beijing agreed" and "China agreed" name the same
country, and number words become digits, so "six-month licences" and "6 months" give the same
figure. Everything here is a pure function of text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache

# Claim terms are compared after these are folded to one canonical name, so "Beijing agreed"
# is grounded by "China agreed". Kept small and obvious: a country, its capital as metonym,
# its adjective and its initials.
ALIASES = {
    "US": ("United States of America", "United States", "U.S.A.", "U.S.", "USA", "US", "America",
           "Americans", "American", "Washington"),
    "China": ("People's Republic of China", "PRC", "Beijing", "Chinese", "China"),
    "UK": ("United Kingdom", "U.K.", "UK", "Britain", "British"),
    "EU": ("European Union", "E.U.", "EU"),
}  # fmt: skip
NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
        " sixteen seventeen eighteen nineteen twenty".split()
    )
    if w != "_"  # "one" is left out: "one of the largest" is rarely an invented figure
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
     "ninety": "90", "hundred": "100", "dozen": "12"}  # fmt: skip
SCALES = {"thousand": 3, "million": 6, "mn": 6, "billion": 9, "bn": 9, "trillion": 12}
STOPWORDS = frozenset(
    "a an the and or but nor of to in on at by for with from as is are was were be been being has have"
    " had do does did it its this that these those he she they them his her their we our you your i"
    " will would could should may might can shall must not no also than then there here which who whom"
    " what when where why how about into after before over under up down out off again more most very"
    " so such only own same both each few other some any all said says say".split()
)

DURATIONS = ("minute", "hour", "day", "week", "month", "year")
NAME_STEM = 5  # a name and its demonym share their first five letters: Japan, Japanese
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:st|nd|rd|th)?(?:\s*(" + "|".join(SCALES) + r")\b)?"
    r"(?:[\s-]+(" + "|".join(DURATIONS) + r")s?\b)?",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
MONTH_ALONE = _MONTH.replace("mar(?:ch)?|", "").replace("may|", "")
WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
DATE_NAME = re.compile(rf"\b(?:{_MONTH}|{WEEKDAY})", re.IGNORECASE)
# A calendar date: "June 5", "5 June 2025", "May 2025", "in 2025", "5/6/2025". "May" and
# "March" alone are too often a verb to count.
WHEN = r"\b(?:in|on|since|by|until|before|after|early|late|mid-?)\s+"
DATE = re.compile(
    rf"(?:{WHEN})?(?:\b{_MONTH}\s+\d{{1,4}}\b(?:,?\s+\d{{4}}\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}}\b)?)"
    rf"|{WHEN}(?:{_MONTH}|(?:1[5-9]|20)\d\d\b)|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![\w'’])(?:(?:[A-Z]\.){2,}|[A-Z][\w'’&]*)")
POSSESSIVE = re.compile(r"['’]s?$")
_WORD = re.compile(r"[a-z0-9]+")
_ALIAS = re.compile(
    "|".join(
        rf"(?<!\w){re.escape(form)}(?!\w)" if form[-1].isalnum() else rf"(?<!\w){re.escape(form)}"
        for form in sorted((f for forms in ALIASES.values() for f in forms), key=len, reverse=True)
    )
)
_SPACED_INITIALS = re.compile(r"\b([A-Z])\.\s(?=[A-Z]\.)")  # "U. S." as the model may write it
_CANONICAL = {form.lower(): name for name, forms in ALIASES.items() for form in forms}


def canonical(text: str) -> str:
    """Aliases folded to one name: ``"Beijing and the U. S. agreed"`` -> ``"China and the US agreed"``."""
    return _ALIAS.sub(lambda m: _CANONICAL[m.group().lower()], _SPACED_INITIALS.sub(r"\1.", text))


def numbers(text: str) -> set[str]:
    """The numeric values in ``text``, normalised so that equal amounts compare equal.

    ``"10,000 tonnes, up 60.3%, six months, $1.2 billion, 2025"`` ->
    ``{"10000", "60.3", "6 month", "1200000000", "2025"}``. Different figures never match:
    ``"7,742.2"`` is not ``"353"``. A duration keeps its unit, so "six-month licences"
    grounds "valid for six months" but not "six licences".
    """
    found = set()
    for m in _NUMBER.finditer(number_words(text)):
        try:
            value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        except InvalidOperation:
            continue
        if m.group(3):
            value = value.scaleb(SCALES[m.group(3).lower()])
        found.add(f"{_plain(value)} {m.group(4).lower()}" if m.group(4) else _plain(value))
    return found


def _plain(value: Decimal) -> str:
    """``Decimal("1.20E+9")`` -> ``"1200000000"``; ``Decimal("60.30")`` -> ``"60.3"``."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def names(text: str, common: Callable[[str], bool] = lambda w: False) -> set[str]:
    """Proper names in a sentence: capitalised words and initialisms, aliases folded.

    The first word counts only when it is not a common word (``common(word.lower())``),
    so "Rare earth prices fell" names nothing, while "Ford halted production" names Ford.
    ``"The U.S. and Beijing met in London on June 5"`` -> ``{"US", "China", "London", "June"}``.
    """
    text = canonical(text)
    found = set()
    for m in _CAPITALISED.finditer(text):
        word = POSSESSIVE.sub("", m.group())
        if not word or word.lower() in STOPWORDS:
            continue
        if m.start() == _first_word_start(text) and common(word.lower()):
            continue
        found.add(word)
    return found


def _first_word_start(text: str) -> int:
    m = re.search(r"\w", text)
    return m.start() if m else -1


def unmentioned(
    question: str, texts: Sequence[str], common: Callable[[str], bool] = lambda w: False
) -> list[str]:
    """The names ``question`` gives that none of ``texts`` mentions, aliases folded. A word with
    the name's first five letters counts, so "Japan" mentions "Japanese"; a word the articles
    use in lower case (``common``) is no name, and a question mostly in capitals has none.

    ``("Which Japanese carmaker halted production?", ["Ford halted production."])`` -> ``["Japanese"]``
    """
    asked = re.findall(r"[^\W\d_][\w'’-]*", question)
    if 2 * sum(w[0].isupper() for w in asked) > len(asked):  # "WHAT DID THE US GIVE UP?"
        return []  # capitals mark no names in a question written in them
    words = {w.lower() for t in texts for w in re.findall(r"[\w&]+", canonical(t))}
    stems = {w[:NAME_STEM] for w in words if len(w) >= NAME_STEM}
    return sorted(
        n
        for n in names(question, common)
        if n.lower() not in words
        and not common(n.lower())
        and not (len(n) >= NAME_STEM and n.lower()[:NAME_STEM] in stems)
    )


def missing_terms(claim: str, grounding: str, common: Callable[[str], bool] = lambda w: False) -> list[str]:
    """The numbers and names of ``claim`` that ``grounding`` does not contain.

    ``("China shipped 10,000 tonnes in July", "China will ship all magnets")`` ->
    ``["10000", "July"]``.
    """
    return absent(numbers(claim), names(claim, common), grounding)


def absent(claim_numbers: set[str], claim_names: set[str], grounding: str) -> list[str]:
    """Which of a claim's numbers and names ``grounding`` lacks (numbers first, each sorted)."""
    have = canonical(grounding)
    folded = have.casefold()
    missing = sorted(claim_numbers - numbers(have), key=lambda n: float(n.split()[0]))
    return missing + sorted(
        n for n in claim_names if not re.search(rf"(?<!\w){re.escape(n.casefold())}(?!\w)", folded)
    )


def asked_dates(question: str) -> str:
    """The numbers and date words of a question, which ground a claim that restates them.

    Its other names do not: "What did the EU say?" must not let "The EU said …" pass on a
    quote about someone else. ``"What happened in June 2025 in Geneva?"`` -> ``"2025 June"``.
    """
    return " ".join(sorted(numbers(question)) + DATE_NAME.findall(question))


def headline(title: str, published: date | None) -> str:
    """An article's headline and date line as grounding text: ``"Deal\nJune 28, 2025"``."""
    return f"{title}\n{published:%B} {published.day}, {published.year}" if published else title


def number_words(text: str) -> str:
    """Number words as digits: ``"six months"`` -> ``"6 months"``."""
    return _NUMBER_WORD.sub(lambda m: NUMBER_WORDS[m.group().lower()], text)


# -- lexical overlap -----------------------------------------------------------------------


@cache
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning: ``"The licences expired"`` -> ``{"licenc", "expir"}``."""
    words = [
        w
        for w in _WORD.findall(canonical(text).lower())
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit())
    ]
    return set(stemmer().stemWords(words))


def coverage(claim: str, support: str, given: str = "") -> float:
    """Share of the claim's content terms that ``support`` holds, counting only the terms
    ``given`` (the question) does not already supply, when there are any.

    Restating the question is not support: for "When will shipments arrive?", the claim
    "Shipments will arrive in June" is judged on "June" alone. 1.0 for a claim without terms.
    """
    terms = content_terms(claim)
    new = terms - content_terms(given)
    terms = new or terms
    return len(terms & content_terms(support)) / len(terms) if terms else 1.0


CLAUSE_END = re.compile(r"[,;:]\s+|\s+[—–-]+\s+|—")
