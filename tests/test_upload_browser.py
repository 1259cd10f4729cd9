"""End to end: articles uploaded through the chat page in headless Chromium, asked about, removed.

The server serves a temporary copy of the seeds with a temporary index, so uploads never
reach the working tree.
"""

from __future__ import annotations

import json
import shutil

import pytest

from rag import textstore

from .conftest import SEEDS
from .files import GALLIUM, TIN_PAGE, chromium, news_html, print_pdf, tiny_pdf
from .test_app_browser import ANSWER_TIMEOUT_MS, app_server, assert_opened_card_marks, log_tail, squash

pytestmark = [pytest.mark.browser, pytest.mark.real]

INDEXING_TIMEOUT_MS = 300_000  # embedding two articles on a busy two-core machine
LISTING_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return shutil.copytree(SEEDS, tmp_path_factory.mktemp("upload") / "corpus")


@pytest.fixture(scope="module")
def app_log(tmp_path_factory):
    return tmp_path_factory.mktemp("upload-server") / "app.log"


@pytest.fixture(scope="module")
def server(corpus, app_log):
    index = app_log.parent / "index"
    with app_server(app_log, RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(index)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


REPORT = "#rag-library-note .rag-change, #rag-library-note .rag-notice"  # not gradio's progress


def report_text(page) -> str:
    return page.evaluate(f"() => document.querySelector('{REPORT}')?.innerText.trim() ?? ''")


def outcome(page, before: str, app_log) -> str:
    """The library note once the page has replaced ``before`` with what an upload or removal
    did (added, removed, skipped or failed), with the app's log for a failing assertion."""
    sync_api = pytest.importorskip("playwright.sync_api")
    try:
        page.wait_for_function(
            f"before => (document.querySelector('{REPORT}')?.innerText.trim() ?? '') !== before",
            arg=before,
            timeout=INDEXING_TIMEOUT_MS,
        )
    except sync_api.TimeoutError:
        pytest.fail(f"the page reported nothing in {INDEXING_TIMEOUT_MS / 1000:.0f} s:\n{log_tail(app_log)}")
    return f"{squash(report_text(page))}\n--- app log ---\n{log_tail(app_log)}"


def test_upload_then_ask_then_remove(browser, server, corpus, app_log, tmp_path):
    """Two good files and a scanned PDF are dropped on the page: the good ones are listed and
    indexed, the scan is named with its reason; a question about the news page is answered
    with a highlighted verbatim quote; removing the page takes it off the list."""
    files = tmp_path / "upload"
    files.mkdir()
    (files / "gallium.html").write_text(news_html("Gallium deal signed in Oslo", GALLIUM), "utf-8")
    print_pdf(TIN_PAGE, files / "tin.pdf", browser)
    (files / "scan.pdf").write_bytes(tiny_pdf([[]]))

    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server)
    page.locator("#rag-question textarea").wait_for(timeout=30_000)
    page.locator("#rag-library").get_by_text("Articles").first.click()
    page.locator("#rag-upload input[type=file]").set_input_files([str(p) for p in sorted(files.iterdir())])

    added = outcome(page, "", app_log)
    assert "Added 2 articles" in added and "scan.pdf: the PDF has no text layer" in added, added
    articles = page.locator("#rag-articles")
    expect = pytest.importorskip("playwright.sync_api").expect  # one reply, but drawn piece by piece
    expect(articles).to_contain_text("Gallium deal signed in Oslo", timeout=LISTING_TIMEOUT_MS)
    expect(articles).to_contain_text("Tin mine reopens in Bolivia", timeout=LISTING_TIMEOUT_MS)
    assert "articles" in page.locator("#rag-index").inner_text()
    page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)

    page.locator("#rag-question textarea").fill(
        "How many tonnes of gallium will Chile ship to Norwegian refiners each year?"
    )
    page.locator("#rag-ask").click()
    chat = page.locator("#rag-chat")
    chat.locator(".rag-answer, .rag-abstain, .rag-error").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert chat.locator(".rag-abstain, .rag-error").count() == 0, chat.inner_text()
    stored = json.loads((textstore.text_dir(corpus) / "gallium.json").read_text(encoding="utf-8"))["text"]
    quotes = [squash(q) for q in chat.locator(".rag-quote").all_inner_texts()]
    ours = [i for i, q in enumerate(quotes) if "340 tonnes" in q]
    assert ours, quotes
    assert quotes[ours[0]] in squash(stored)
    assert_opened_card_marks(chat, ours[0], quotes[ours[0]])
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)

    before = report_text(page)
    choice = page.locator("#rag-remove-choice input")
    choice.click()
    choice.fill("Gallium")  # the dropdown filters its options by what is typed
    page.get_by_role("option", name="Gallium deal signed in Oslo", exact=False).first.click()
    page.locator("#rag-remove").click()
    removed = outcome(page, before, app_log)
    assert "Removed gallium." in removed, removed
    expect(articles).not_to_contain_text("Gallium deal signed in Oslo", timeout=LISTING_TIMEOUT_MS)
    assert (corpus / ".rag" / "trash" / "gallium.html").exists()
    page.close()
