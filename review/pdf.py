"""Print a self-contained HTML report to PDF with headless Chromium (``--print-to-pdf``).

Chromium is found as ``$PLANTAR_CHROMIUM``, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on ``PATH`` (Debian: ``apt install chromium``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from base.errors import PlantarError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 180.0


def find_chromium() -> str | None:
    """Path of a Chromium to print with, or None."""
    env = os.environ.get("PLANTAR_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for b in BROWSERS if (p := shutil.which(b))), None)


def html_to_pdf(html_text: str, out: Path) -> None:
    """Write ``html_text`` as a PDF to ``out`` (A4, no browser header or footer)."""
    exe = find_chromium()
    if exe is None:
        raise PlantarError(
            "no Chromium to print the PDF with; install it (apt install chromium) or set "
            "PLANTAR_CHROMIUM, or use --no-pdf"
        )
    with tempfile.TemporaryDirectory(prefix="plantar-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html_text, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            src.as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=PRINT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PlantarError(f"Chromium could not print the PDF ({err}); use --no-pdf") from None
        if not target.is_file() or target.stat().st_size == 0:
            raise PlantarError("Chromium wrote no PDF; check `chromium --version`, or use --no-pdf")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, out)
        except OSError as err:
            raise PlantarError(f"cannot write {out}: {err.strerror}; choose another path") from None
