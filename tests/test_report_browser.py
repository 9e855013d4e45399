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


def instrumented_copy(page: Path) -> Path:
    """The page with the test's checks script injected, allowed by its hash and nothing else."""
    script = CHECKS.read_text()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    text = page.read_text()
    no_script = "script-src &#39;none&#39;"  # as the attribute holds it, HTML-escaped
    assert no_script in text  # the shipped page runs no script
    assert "<script" not in text.split("<body>", 1)[0]
    text = text.replace(no_script, f"script-src &#39;sha256-{digest}&#39;", 1)
    text = text.replace("</head>", f"<script>{script}</script>\n</head>", 1)
    copy = page.with_name(f"instrumented-{page.name}")
    copy.write_text(text)
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
    manifest = json.loads((out / MANIFEST).read_text())
    pages = [p["name"] for p in manifest["pages"]]
    # An index, a page per device, the cross-device view and the study: split, each page small.
    assert pages == ["index", "batch-size-cpu", "batch-size-cuda", "across-devices", "eigenfaces"]
    shown = 0
    for name in pages:
        page = out / f"{name}.html"
        assert page.stat().st_size < 200_000, (name, page.stat().st_size)  # figures are files, not inlined
        n_images = page.read_text().count("<img ")
        dumped = chromium_run(chromium, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000",
                              "--window-size=1280,2000", instrumented_copy(page).as_uri())
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        attrs = html_attributes(dumped.stdout)
        assert attrs.get("data-ready") == "1", f"{name}: the page's load handler did not run"
        assert "data-errors" not in attrs, (name, attrs.get("data-errors"))
        assert attrs["data-images"] == str(n_images), name
        assert attrs["data-images-loaded"] == str(n_images), name  # every image (figure, thumbnail) loads
        assert attrs["data-page-overflow"] == "false", name
        assert attrs["data-scrolling-tables"] == "", (name, attrs["data-scrolling-tables"])
        assert "Uncaught" not in dumped.stderr
        assert "Refused to" not in dumped.stderr  # no Content-Security-Policy violation
        shown += n_images
        if name == "batch-size-cpu":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dumped.stdout  # shown as text, not run
    # Every figure is shown somewhere, and the index shows one thumbnail per card.
    assert shown >= len(manifest["figures"])
    assert (out / "index.html").read_text().count('class="card ') == 4

    shot_dir = Path(os.environ.get("DLPLAYGROUND_SCREENSHOT_DIR") or tmp_path)
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = shot_dir / "report-screenshot.png"
    taken = chromium_run(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000",
                         "--hide-scrollbars", (out / "index.html").as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    with Image.open(shot) as img:
        img.verify()
    with Image.open(shot) as img:
        assert img.size == (1280, 2000)
        colors = img.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 200  # text, cards and thumbnails, not an empty page
    print(f"screenshot: {shot}")
