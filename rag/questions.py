"""What a question asks for: the kind of answer it needs, its parts, whose words it asks
about, and whether it asks yes or no. The answer's checks hold its claims to these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .terms import (
    ALIASES,
    DATE,
    MONTH_ALONE,
    POSSESSIVE,
    STOPWORDS,
    WEEKDAY,
    WHEN,
    absent,
    canonical,
    content_terms,
    names,
    number_words,
    numbers,
    unmentioned,
)

# words that make a run of capitalised words an institution's name, not a person's
INSTITUTIONS = frozenset(
    "house council ministry department office administration committee commission bank union party"
    " congress senate parliament university institute agency group company corporation board court"
    " times post news journal street".split()
)

# A question asking for an amount is not answered by sentences without a figure (the day
# of a date is not one), nor one asking when by sentences without a date or time, however
# well quoted they are ("later" and "earlier" order events without placing them in time,
# and "two economies" is no date). A question asking for money or a percentage needs a
# figure in money or a percentage: a count ("the two economies") is neither. A question
# asking which one of a kind of thing that has proper names (a company, a mine, a senator)
# needs a name the question does not give: "new mines in Myanmar" names no mine. A question
# asking how many of something needs a number of that thing: "How many export licences…?"
# is not answered by "after two days of talks".
_CURRENCY = r"(?:[$€£¥]|\b(?:usd|rmb|yuan|dollars?|euros?|yen)\b)"
Gives = Callable[[str, str, Callable[[str], bool]], bool]  # (answer, question, common) -> bool


def _without_dates(text: str) -> str:
    """Number words as digits, and dates blanked out: the day of a date is not an amount."""
    return DATE.sub(" ", number_words(text))


def _figure(pattern: str) -> Gives:
    """An answer holding ``pattern`` outside its dates."""
    found = re.compile(pattern, re.IGNORECASE)
    return lambda text, question, common: bool(found.search(_without_dates(text)))


def _time(pattern: str) -> Gives:
    found = re.compile(pattern, re.IGNORECASE)
    return lambda text, question, common: bool(found.search(number_words(text)))


_AMOUNT = _figure(r"\d|\b(?:half|third|quarter|dozens?|hundreds|thousands|millions|billions)\b")
_HOW_MANY = re.compile(r"\bhow many\b((?:\s+[\w'’-]+){0,3})", re.IGNORECASE)
_COUNTED = re.compile(r"\d[\d,.]*((?:\s+[\w'’-]+){1,3})")  # a number and the words after it


def _count(text: str, question: str, common: Callable[[str], bool]) -> bool:
    """A number followed, within three words, by one of the three words after "how many"
    (any amount when those words name nothing)."""
    counted = {t for t in content_terms(_HOW_MANY.search(question).group(1)) if not t.isdigit()}
    if not counted:
        return _AMOUNT(text, question, common)
    return any(content_terms(m.group(1)) & counted for m in _COUNTED.finditer(_without_dates(text)))


def _new_name(text: str, question: str, common: Callable[[str], bool]) -> bool:
    return bool(names(text, common) - names(question, common))


def _new_person(text: str, question: str, common: Callable[[str], bool]) -> bool:
    """A full name the question does not give: two or more capitalised words in a row, none a
    country's, an acronym, a stop word or a word the articles also use in lower case
    (``common``), and not followed by one of ``INSTITUTIONS``. "Senator Jane Roe" names a
    person; "the Trump administration", "the White House", "Ford Motor Company", "its Explorer
    SUV" and "The US and China" do not.
    """
    asked = names(question, common)
    runs: list[list[str]] = [[]]
    for token in re.findall(r"[\w'’-]+|[^\w\s]", canonical(text)):
        word = POSSESSIVE.sub("", token)
        lower = word.lower()
        if word[:1].isupper() and lower in INSTITUTIONS:
            runs[-1] = []  # the words before it name the institution
        elif (
            word[:1].isupper()
            and not word.isupper()  # an acronym (SUV, MOFCOM) names no person
            and word not in ALIASES
            and not common(lower)
            and lower not in STOPWORDS
        ):
            runs[-1].append(word)
        else:
            runs.append([])
    return any(len(run) >= 2 and not set(run) <= asked for run in runs)


KINDS: dict[str, tuple[re.Pattern, Gives]] = {
    "a sum of money": (
        re.compile(
            r"\bwhat\b[^?]{0,30}\b(?:price|value|fine|cost|sum|fee)s?\b|\bdollars?\b"
            r"|\bhow much\b[^?]*\b(?:pay|paid|cost|spend|spent|charge|worth|money)\b",
            re.IGNORECASE,
        ),
        _figure(
            rf"{_CURRENCY}\s?\d|\d(?:[\d,.]*\d)?\s*(?:thousand|million|billion|trillion|bn|mn)?\s*{_CURRENCY}"
        ),
    ),
    "a percentage": (
        re.compile(r"\bwhat\b[^?]{0,30}\b(?:share|percentage|proportion)\b|\bper ?cent", re.IGNORECASE),
        _figure(r"\d\s*(?:%|per ?cent)|\b(?:half|third|thirds|quarter|quarters|majority|fifth|tenth)\b"),
    ),
    "a count": (_HOW_MANY, _count),
    "an amount": (
        re.compile(
            r"\bhow (?:much|long|large|big|high|low)\b|\bwhat\b[^?]{0,30}\b(?:number|amount|rate)\b",
            re.IGNORECASE,
        ),
        _AMOUNT,
    ),
    "a person": (
        re.compile(
            r"\bwhich\s+(?:\S+\s+){0,2}?(?:senator|lawmaker|official|minister|researcher|analyst|"
            r"spokes(?:man|woman|person))\b",
            re.IGNORECASE,
        ),
        _new_person,
    ),
    "a name": (
        re.compile(
            r"\bwhich\s+(?:\S+\s+){0,2}?(?:company|firm|carmaker|automaker|manufacturer|producer|mine|"
            r"country|city|port|province|region|ministry|agency|outlet|newspaper|bank|university)\b",
            re.IGNORECASE,
        ),
        _new_name,
    ),
    "a date or time": (
        re.compile(
            r"^\W*when\b|\b(?:what|which|by what|on what) (?:date|day|year|month|time)\b", re.IGNORECASE
        ),
        _time(
            rf"{DATE.pattern}|\b(?:{MONTH_ALONE}|{WEEKDAY})|\b(?:1[5-9]|20)\d\d\b|\b\d{{1,2}}(?::\d\d)?\s*[ap]\.?m\b"
            r"|\b(?:today|yesterday|tomorrow|weeks?|months?|years?|quarter|ago|soon|spring|summer|autumn|"
            r"winter)\b"
        ),
    ),
}


def asked_kind(question: str) -> str | None:
    """What kind of answer ``question`` needs: ``"How much did it cost?"`` -> ``"an amount"``."""
    return next((kind for kind, (asks, _) in KINDS.items() if asks.search(question)), None)


_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)
_POLAR = re.compile(
    r"(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should|shall)\b", re.IGNORECASE
)


def polar(question: str) -> bool:
    """Whether ``question`` asks yes or no: ``"Did China approve the licences?"``. Such a question
    supposes nothing, so what it says grounds no claim: "China approved the licences on June 9"
    needs its date from a quote even when the question gives it."""
    return bool(_POLAR.match(question.lstrip()))


_WHEN_AT = re.compile(rf"^{WHEN}", re.IGNORECASE)


def unsettled(
    question: str,
    claims: Sequence[str],
    cited: Sequence[str],
    common: Callable[[str], bool] = lambda w: False,
) -> list[str]:
    """What a yes-or-no question (``polar``) asks about that its answer leaves unsettled: each
    date and figure it gives that no claim states or corrects with another, and each name that
    neither the claims nor the ``cited`` articles' texts mention (``unmentioned``). An answer
    that says "They spoke by phone" to "Did they speak on June 9?" reads as a yes it cannot back.

    ``("Did they speak on June 9?", ["They spoke by phone."], [])`` -> ``["June 9"]``; with
    ``["They spoke on June 5."]`` -> ``[]``: the answer corrects the date.
    """
    if not polar(question):
        return []
    said = canonical(" ".join(claims))
    corrected = any(absent(numbers(d), names(d), question) for d in DATE.findall(said))
    dates = [] if corrected else [_WHEN_AT.sub("", d) for d in DATE.findall(question)]
    out = [d for d in dates if absent(numbers(d), names(d), said)]
    figures, said_figures = numbers(_without_dates(question)), numbers(_without_dates(said))
    if not said_figures - figures:
        out += sorted(figures - said_figures)
    return out + unmentioned(DATE.sub(" ", question), [*claims, *cited], common)


_PREPOSITION = r"(?:(?:by|on|in|at|for|from|to|with)\s+)?"  # "…? By what date…"
_NEXT_QUESTION = re.compile(rf"(?:,?\s+and|;|\?)\s+(?={_PREPOSITION}{_WH.pattern})", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The questions one question joins, each ending in "?": ``"How long are licences valid,
    and what do they cost?"`` -> ``["How long are licences valid?", "What do they cost?"]``."""
    parts = [p.strip(" ,;?") for p in _NEXT_QUESTION.split(question.strip())]
    return [f"{p[0].upper()}{p[1:]}?" for p in parts if p]


def open_parts(
    question: str, claims: Sequence[str], cited: Sequence[str], common: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """``(part, why)`` for each part of ``question`` (``question_parts``) that ``claims``, from
    articles whose texts are ``cited``, leave open: it asks for a kind of answer no claim about
    it gives, or names what no cited article mentions (``unmentioned``). ``("Who came, and how
    much did it cost?", ["Ann Lee came."], …)`` -> ``[("How much did it cost?", "the question
    asks for a sum of money and no backed sentence gives one")]``. Each part is judged on
    the claims about it (``about_parts``)."""
    missing = unmentioned(question, cited, common)
    parts = question_parts(question)
    about = [about_parts(c, parts) for c in claims]
    out = []
    for i, part in enumerate(parts):
        mine = [c for c, where in zip(claims, about, strict=True) if i in where]
        kind = asked_kind(part)
        named = [n for n in missing if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", part)]
        if kind and not any(gives_kind(c, kind, question, common) for c in mine):
            out.append((part, f"the question asks for {kind} and no backed sentence gives one"))
        elif named:
            out.append((part, f"the question names {', '.join(named)}, which no cited article mentions"))
    return out


def about_parts(claim: str, parts: Sequence[str]) -> list[int]:
    """The indexes of the ``parts`` of a question that ``claim`` may answer: all but those it
    shares no word with while sharing some with another. ``("The deal is due by August 10.",
    ["When did Trump and Xi speak?", "By what date is a deal due?"])`` -> ``[1]``."""
    said = content_terms(claim)
    terms = [content_terms(p) for p in parts]
    every = set().union(*terms)
    return [i for i, own in enumerate(terms) if said & own or not said & (every - own)]


_SAYS = re.compile(
    r"\bwhat (?:did|does|do|has|have|had|will|would) (.+?) (?:say|said|tell|told|announce|report|state|"
    r"claim|argue|write|warn|predict|think)\b",
    re.IGNORECASE,
)


def speaker(question: str) -> set[str]:
    """The content terms of who a "what did … say" question asks about, countries left out (every
    article names them): ``"What did Howard Lutnick say?"`` -> ``{"howard", "lutnick"}``."""
    said = _SAYS.search(question)
    return content_terms(said.group(1)) - content_terms(" ".join(ALIASES)) if said else set()


def gives_kind(
    text: str, kind: str, question: str = "", common: Callable[[str], bool] = lambda w: False
) -> bool:
    """Whether ``text`` could answer ``question`` with ``kind``: ``("It costs $5.", "an amount")``
    -> True. A name must be one ``question`` does not give (``common`` as in ``names``)."""
    return KINDS[kind][1](text, question, common)
