"""Prompt rendering: templates are files in ``prompts/``; these functions are pure.

Templates use ``$name`` placeholders (``string.Template``), so braces in article
text need no escaping.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

from .schema import Evidence

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@cache
def template(name: str) -> Template:
    return Template((PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").strip())


def system_prompt() -> str:
    return template("system").template


def evidence_block(evidence: list[Evidence]) -> str:
    """``[1] Passage text.`` lines, one per evidence passage, whitespace folded."""
    return "\n".join(template("evidence").substitute(n=e.n, text=" ".join(e.text.split())) for e in evidence)


def answer_messages(question: str, evidence: list[Evidence], retry: bool = False) -> list[dict[str, str]]:
    """System prompt first and unchanged, so its KV cache is reused across questions.

    ``retry`` asks again, more firmly, after the model said the passages don't answer.
    """
    name = "answer_retry" if retry else "answer"
    user = template(name).substitute(evidence=evidence_block(evidence), question=question.strip())
    return [{"role": "system", "content": system_prompt()}, {"role": "user", "content": user}]


def rewrite_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    lines = [f"{m['role'].capitalize()}: {' '.join(m['content'].split())}" for m in history]
    user = template("rewrite").substitute(history="\n".join(lines), question=question.strip())
    return [{"role": "user", "content": user}]
