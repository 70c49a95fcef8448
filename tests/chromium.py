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
