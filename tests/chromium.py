"""How the browser tests launch Debian's Chromium through Playwright.

Playwright's own browser download is not available here; ``scripts/test`` installs the
Debian package ``chromium`` and the tests pass its path as ``executable_path``.
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_page(pw, width: int = 1280, height: int = 800):  # type: ignore[no-untyped-def]
    """Launch Chromium through a Playwright handle ``pw`` and open one page of that
    viewport; returns (browser, page, errors), errors collecting the page's script errors."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return browser, page, errors
