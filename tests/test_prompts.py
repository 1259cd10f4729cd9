"""Golden tests: the rendered prompts are pinned, so a prompt change shows up as a readable diff.

To accept an intended change, run ``UPDATE_GOLDEN=1 pytest tests/test_prompts.py`` and review
the diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import prompts
from rag.schema import Evidence

GOLDEN = Path(__file__).parent / "golden"
EVIDENCE = [
    Evidence(1, "a", "China will approve\n  export licences.", 0, 38),
    Evidence(2, "b", "Talks were held in London {not a placeholder} and cost $5.", 0, 58),
]
HISTORY = [
    {"role": "user", "content": "What did the US give up?"},
    {"role": "assistant", "content": "It eased  export controls [1]."},
]


def render(messages: list[dict[str, str]]) -> str:
    return "".join(f"<<{m['role']}>>\n{m['content']}\n" for m in messages)


SYSTEM = prompts.corpus_system(
    [
        prompts.article_block(1, "Daily, 2025-06-28", "Deal done.\n\n  China will   approve.\n"),
        "Article [2] (undated)\nX.",
    ]
)


@pytest.mark.parametrize(
    "name, messages",
    [
        ("evidence", prompts.evidence_messages("What did China commit to? ", EVIDENCE)),
        ("corpus", prompts.corpus_messages(SYSTEM, "What did China commit to? ", HISTORY)),
        ("rewrite", prompts.rewrite_messages("And in return?", HISTORY)),
        (
            "verify",
            prompts.verify_messages(
                "They spoke on June 5, 2025.", ["The call,\n on June 5."], "June 11, 2025"
            ),
        ),
    ],
)
def test_rendered_prompt_matches_golden(name, messages):
    path = GOLDEN / f"{name}.txt"
    text = render(messages)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_fixed_prefixes_come_first_and_do_not_change_between_questions():
    """A KV cache is reused only for an unchanged prefix: the system prompt in evidence mode,
    the whole corpus message in corpus mode; the question always comes last."""
    a = prompts.evidence_messages("First question?", EVIDENCE[:1])
    b = prompts.evidence_messages("Another question?", EVIDENCE[1:], HISTORY)
    assert a[0] == b[0] == {"role": "system", "content": prompts.system_prompt()}
    c = prompts.corpus_messages(SYSTEM, "First question?")
    d = prompts.corpus_messages(SYSTEM, "Another question?", HISTORY)
    assert c[0] == d[0] == SYSTEM and d[1:3] == HISTORY
    assert d[-1]["content"].startswith("Question: Another question?")
