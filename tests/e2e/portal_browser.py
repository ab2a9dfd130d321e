"""Headless Debian Chromium driven by Playwright for the portal's browser tests; screenshots for review."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_env import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Git-ignored; `make test` leaves one PNG per page here for review (a few are copied into docs/portal/).
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", REPO / ".local" / "portal-screenshots"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Any, *, javascript: bool = True) -> Any:
    """A fresh browser profile: its own cookies; the clipboard may be used; the local authority's throwaway
    certificate is accepted (it is trusted by the gateway's process through REQUESTS_CA_BUNDLE)."""
    context = browser.new_context(
        ignore_https_errors=True,
        java_script_enabled=javascript,
        permissions=["clipboard-read", "clipboard-write"],
        viewport={"width": 1100, "height": 760},
    )
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: page.csp_violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return page


# Run in the page: what a screen reader user would miss (one h1, a language, labelled fields and buttons).
_ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
  for (const field of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!field.labels || field.labels.length === 0) problems.push("unlabelled field " + field.name);
  }
  for (const button of document.querySelectorAll("button, a")) {
    const name = (button.getAttribute("aria-label") || button.textContent || "").trim();
    if (!name && !button.hidden) problems.push("button or link without a name");
  }
  return problems;
}"""


def screenshot(page: Any, name: str) -> Path:
    """Saves the page for review, after checking it for the basic accessibility problems."""
    problems = page.evaluate(_ACCESSIBILITY_PROBLEMS)
    assert problems == [], f"{name}: {problems}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
