"""Article files the tests make themselves: a news page in HTML, a tiny PDF, a PDF printed by Chromium."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def skip_without_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (or `make chromium`)"
        )


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium through Playwright (``playwright install`` cannot fetch one here)."""
    skip_without_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# A news story whose second sentence answers one direct question.
GALLIUM = [
    "Norway and Chile signed a gallium supply agreement in Oslo on Thursday.",
    "Under the deal, Chile will ship 340 tonnes of gallium to Norwegian refiners each year.",
    "The agreement runs for seven years and can be extended once.",
]
# A page that prints as two PDF pages; the tonnage is on page 2.
TIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Tin mine reopens in Bolivia</title>
<style>body { font: 14px serif; } .next { page-break-before: always; }</style></head><body>
<h1>Tin mine reopens in Bolivia</h1><p>Andes Mining Review · May 20, 2025</p>
<p>Bolivia reopened the Huanuni tin mine on Tuesday after a two-year closure caused by flooding.</p>
<p>Miners returned to the shafts early in the morning, and the first ore came up by noon.</p>
<div class="next"></div>
<p>The Huanuni mine will produce 12,000 tonnes of tin a year, the mining ministry said.</p>
<p>Most of the tin will be exported through the port of Arica in Chile.</p>
</body></html>"""


def news_html(
    headline: str,
    paragraphs: list[str],
    *,
    site: str | None = "The Harbour Gazette",
    author: str | None = "Ingrid Solberg",
    published: str | None = "2025-03-14",
) -> str:
    """A saved news page: meta tags, navigation, the article, a footer full of boilerplate."""
    meta = "".join(
        f'<meta {attr}="{key}" content="{value}">'
        for attr, key, value in (
            ("property", "og:site_name", site),
            ("name", "author", author),
            ("property", "article:published_time", published and f"{published}T08:00:00Z"),
        )
        if value
    )
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{headline} | {site}</title>{meta}</head>'
        '<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/markets">Markets</a></nav>'
        f"<article><h1>{headline}</h1>{body}</article>"
        "<footer>Copyright 2025. Subscribe to our newsletter for more stories. Cookie settings.</footer>"
        "</body></html>"
    )


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def tiny_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one Helvetica text line per string, page by page (``[]`` is a blank page)."""
    n = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        ops = ["BT /F1 11 Tf 72 720 Td 14 TL", *(f"({_pdf_string(line)}) Tj T*" for line in lines), "ET"]
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            + f" /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def print_pdf(page_html: str, path: Path, browser=None) -> Path:
    """``page_html`` printed to ``path`` by the real Chromium through Playwright's ``page.pdf()``;
    ``browser`` is an open Playwright browser, else one is launched for this."""
    if browser is not None:
        page = browser.new_page()
        try:
            page.set_content(page_html)
            page.pdf(path=str(path), format="A4")
        finally:
            page.close()
        return path
    with chromium() as launched:
        return print_pdf(page_html, path, launched)
