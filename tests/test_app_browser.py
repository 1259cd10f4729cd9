"""End to end: the real chat page (``app.py``, real models and index) driven in headless Chromium.

The server runs as a subprocess on a free local port; it inherits the
environment, so ``RAG_CACHE_DIR`` and friends pass through.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rag.serving import free_port

from .files import chromium, skip_without_chromium

pytestmark = [pytest.mark.browser, pytest.mark.real]

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
START_TIMEOUT_S = 300  # the first start may build the index and load the models
ANSWER_TIMEOUT_MS = 180_000  # a CPU-only LLM
QUESTION = "What did China commit to under the agreement?"


def squash(text: str) -> str:
    """Collapse whitespace runs: the browser's innerText of an inline span turns the
    article's line breaks into spaces, so quotes are compared whitespace-insensitively."""
    return " ".join(text.split())


def assert_opened_card_marks(chat, n: int, quote: str) -> None:
    """Opening citation card ``n`` shows its article with exactly ``quote`` highlighted."""
    card = chat.locator(".rag-cite").nth(n)
    card.locator("summary").click()
    mark = card.locator(".rag-article mark")
    mark.wait_for(timeout=10_000)
    assert squash(mark.inner_text()) == quote


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def app_server(log_path: Path, **env: str):
    """``python app.py`` on 127.0.0.1:<free port> with ``env`` added; yields its URL and always ends it."""
    skip_without_chromium()
    port = free_port()
    env = {
        **os.environ,
        **env,
        "RAG_HOST": "127.0.0.1",
        "RAG_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown reaches any children too
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with code {proc.returncode}:\n{log_tail(log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url} within {START_TIMEOUT_S} s:\n{log_tail(log_path)}")
            time.sleep(1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logs = tmp_path_factory.mktemp("server")  # its own index: the per-test one is not set up yet
    with app_server(logs / "app.log", RAG_INDEX_DIR=str(logs / "index")) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(server)
    page.locator("#rag-question textarea").wait_for(timeout=30_000)
    yield page
    page.close()


def test_answer_streams_and_cites_verbatim_quotes_from_the_seeds(page, tmp_path):
    """The answer streams in, then shows numbered citation cards whose quotes are
    word for word in a seed article; opening a card shows that article with the
    quote highlighted."""
    page.locator("#rag-question textarea").fill(QUESTION)
    page.locator("#rag-ask").click()

    page.wait_for_function(
        """() => {
            const s = document.querySelector('#rag-chat .rag-streaming');
            return s !== null && s.innerText.replace('▍', '').trim().length > 0;
        }""",
        timeout=ANSWER_TIMEOUT_MS,
    )
    final = page.locator("#rag-chat .rag-answer, #rag-chat .rag-abstain, #rag-chat .rag-error").first
    final.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    chat = page.locator("#rag-chat")
    assert chat.locator(".rag-abstain, .rag-error").count() == 0, chat.inner_text()

    numbers = chat.locator(".rag-cite-n").all_inner_texts()
    assert numbers, "the answer has no citation cards"
    assert numbers == [f"[{n}]" for n in range(1, len(numbers) + 1)]
    quotes = [squash(q) for q in chat.locator(".rag-quote").all_inner_texts()]
    assert len(quotes) == len(numbers) and all(quotes)

    seeds = [squash(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.iterdir()) if p.is_file()]
    verbatim = [i for i, q in enumerate(quotes) if any(q in text for text in seeds)]
    assert verbatim, f"no quote occurs verbatim in {SEEDS}: {quotes}"

    assert_opened_card_marks(chat, verbatim[0], quotes[verbatim[0]])
    page.screenshot(path=str(tmp_path / "source.png"), full_page=True)

    status = page.locator("#rag-status").inner_text()
    assert re.fullmatch(r"answered in \d+\.\d s from \d+ sources?", status.strip()), status


def test_empty_message_shows_a_hint(page):
    page.locator("#rag-ask").click()
    hint = page.locator("#rag-chat .rag-hint")
    hint.wait_for(timeout=30_000)
    assert "Type a question" in hint.inner_text()
