"""The HTML report in a real browser: headless Chromium renders it with no errors and shows every figure.

The report ships no script. The test loads an instrumented copy of the page: ``report_checks.js`` injected
under the page's own Content-Security-Policy (only its hash added to ``script-src``), which writes what it saw
into ``<html data-*>`` attributes (images present and decoded, errors and CSP violations); ``--dump-dom``
after a virtual-time budget returns them.
Set ``DLPLAYGROUND_SCREENSHOT_DIR`` to keep the screenshot somewhere you can look at it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from dlplayground.report import build_report
from dlplayground.report.build import MANIFEST

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
]


def chromium_run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False, cwd=profile)


CHECKS = Path(__file__).with_name("report_checks.js")


def instrumented_copy(index: Path) -> Path:
    """``index.html`` with the test's checks script injected, allowed by its hash and nothing else."""
    script = CHECKS.read_text()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    page = index.read_text()
    no_script = "script-src &#39;none&#39;"  # as the attribute holds it, HTML-escaped
    assert no_script in page  # the shipped page runs no script
    assert "<script" not in page.split("<body>", 1)[0]
    page = page.replace(no_script, f"script-src &#39;sha256-{digest}&#39;", 1)
    page = page.replace("</head>", f"<script>{script}</script>\n</head>", 1)
    copy = index.with_name("instrumented.html")
    copy.write_text(page)
    return copy


def html_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<html\b[^>]*>", dom)
    assert tag is not None, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def test_report_renders_in_headless_chromium(chromium, batch_result, experiment_result, tmp_path):
    out = tmp_path / "report"
    build_report([batch_result("cpu", models=("mlp", "<script>alert(1)</script>")),
                  batch_result("gpu", device="cuda", slowdown=0.3, seed=4),
                  experiment_result("eig")], out)
    n_figures = len(json.loads((out / MANIFEST).read_text())["figures"])
    # 3 series, 1 memory figure (the GPU run's allocator peaks are per point; the CPU run's are the process's
    # monotonic peak, which is not drawn against batch), 1 across-devices, 1 experiment figure
    assert n_figures == 6
    url = (out / "index.html").as_uri()

    dumped = chromium_run(chromium, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000",
                          instrumented_copy(out / "index.html").as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    attrs = html_attributes(dumped.stdout)
    assert attrs.get("data-ready") == "1", "the page's load handler did not run"
    assert "data-errors" not in attrs, attrs.get("data-errors")
    assert attrs["data-images"] == str(n_figures)
    assert attrs["data-images-loaded"] == str(n_figures)
    assert "Uncaught" not in dumped.stderr
    assert "Refused to" not in dumped.stderr  # no Content-Security-Policy violation
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dumped.stdout  # shown as text, not run

    shot_dir = Path(os.environ.get("DLPLAYGROUND_SCREENSHOT_DIR") or tmp_path)
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = shot_dir / "report-screenshot.png"
    taken = chromium_run(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000",
                         "--hide-scrollbars", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    with Image.open(shot) as img:
        img.verify()
    with Image.open(shot) as img:
        assert img.size == (1280, 2000)
        colors = img.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 200  # text, tables and a plot, not an empty page
    print(f"screenshot: {shot}")
