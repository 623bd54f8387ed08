"""Print an HTML report to PDF with headless Chromium (Debian's `chromium` package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from suite.report.data import ReportError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable to use; ReportError saying how to install one when none is."""
    if explicit:
        if Path(explicit).is_file() or shutil.which(explicit):
            return explicit
        raise ReportError(f"--chromium {explicit}: no such program")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportError(
        "--pdf needs Chromium, which is not installed (on Debian: apt-get install chromium);"
        " the HTML report was written and can be printed from any browser"
    )


def print_pdf(html_path: Path, pdf_path: Path, *, chromium: str, timeout_s: float = 120.0) -> None:
    """Print `html_path` to `pdf_path`; ReportError when Chromium fails or writes nothing."""
    try:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-pdf-header-footer",
             f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()],
            capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ReportError(f"Chromium did not print {html_path} within {timeout_s:g} s") from None
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise ReportError(
            f"Chromium could not print the report (exit {done.returncode}): {' | '.join(tail)}"
        )
