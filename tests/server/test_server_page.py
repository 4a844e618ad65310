"""The playground page: served self-contained, and in headless Chromium a prompt streams in coloured tokens.

The browser test needs Debian's Chromium (``apt-get install chromium``, or ``make browser``) and is
skipped without it; Playwright drives that browser, it never downloads one. The screenshot is kept
under ``test-artifacts/`` (or ``$VERISPEC_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from server_support import MODEL
from verispec import methods
from verispec.methods import MethodSpec, available_methods

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
SPECULATIVE = {"exact", "relaxed", "replaced", "bonus", "verifier"}
EXACT_BACKGROUND = "rgb(204, 229, 255)"  # .p-exact of the HTML report (#cce5ff)


def artifacts_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    path = Path(os.environ.get("VERISPEC_TEST_ARTIFACTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_page_is_self_contained_and_offers_every_registered_method(http, monkeypatch):
    spec = MethodSpec("test-solo", "a method registered at run time", uses_draft=False, uses_verifier=True)
    monkeypatch.setitem(methods._SPECS, spec.name, spec)
    response = http.get("/")
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page)  # nothing fetched from anywhere
    assert re.findall(r'<option value="([^"]+)"', page) == available_methods()
    assert '<option value="sd" title="standard speculative decoding' in page and " selected>sd<" in page
    assert 'value="gamma=4"' in page  # the server's default options (sd:gamma=4)
    for label in ("kept by the exact check", "kept only by a judge or rule", "replaced by the verifier", "bonus token"):
        assert label in page


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium "
                                                                  "(apt-get install chromium, or make browser)")


@contextmanager
def generated(server, method: str, options: str) -> Iterator[Page]:
    """The playground in headless Chromium once it has streamed 40 tokens of a story with ``method``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(f"{server.url}/")
            page.fill("#prompt", "Tell me a story.")
            page.select_option("#method", method)
            page.fill("#options", options)
            page.fill("#max-tokens", "40")
            page.fill("#temperature", "0")
            page.click("#generate")
            page.wait_for_selector("#status[data-state=done]", timeout=60_000)
            yield page
        finally:
            browser.close()


def output_spans(page: Page) -> list[list[str]]:
    """``[class, text, title]`` of each token span in the output."""
    return page.eval_on_selector_all("#output span.t", "spans => spans.map(s => [s.className, s.textContent, s.title])")


@needs_chromium
def test_prompt_streams_coloured_tokens_in_chromium(server, client):
    expected = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], max_tokens=40, temperature=0,
        extra_body={"verispec": {"method": "sd", "gamma": 4}},
    )
    png = artifacts_dir() / "server_playground.png"
    png.unlink(missing_ok=True)
    with generated(server, "sd", "gamma=4") as page:
        tokens = output_spans(page)
        background = page.eval_on_selector("#output span.p-exact", "span => getComputedStyle(span).backgroundColor")
        stats = page.inner_text("#stats")
        authors = page.inner_text("#authors")
        page.screenshot(path=str(png), full_page=True)
    assert len(tokens) == 40
    assert "".join(text for _, text, _ in tokens) == expected.choices[0].message.content
    assert {cls.removeprefix("t p-") for cls, _, _ in tokens} <= SPECULATIVE
    assert background == EXACT_BACKGROUND
    assert "mean accepted length" in stats and "verifier forwards" in stats
    assert authors == ""
    assert png.stat().st_size > 10_000


@needs_chromium
def test_collaborative_tokens_are_coloured_by_author_in_chromium(server, client):
    expected = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], max_tokens=40, temperature=0,
        extra_body={"verispec": {"method": "cosd-rule"}},
    )
    with generated(server, "cosd-rule", "") as page:
        tokens = output_spans(page)
        legend = page.eval_on_selector_all("#authors span.t", "spans => spans.map(s => s.className)")
    want = expected.model_extra["verispec"]["tokens"]
    assert [cls for cls, _, _ in tokens] == [f"t a-{t['author']}" for t in want]
    assert [title.split(" · ")[:2] for _, _, title in tokens] == [[t["author"], t["provenance"]] for t in want]
    assert "".join(text for _, text, _ in tokens) == expected.choices[0].message.content
    assert sorted(legend) == sorted({f"t a-{t['author']}" for t in want})
