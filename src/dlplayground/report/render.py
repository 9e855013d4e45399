"""Render each ``Page`` of a ``Document`` as Markdown and as HTML, escaping every value.

HTML: jinja2 with autoescape; figures are files beside the page (``figures/``), linked, not inlined, so a
page stays small however many figures a run has; a Content-Security-Policy allows only the page's own
(hashed) style, images from the report's own folder and no script at all: even a value that slipped past
escaping could not run a script or load anything from the network.

Markdown: every ``{{ value }}`` passes through a ``finalize`` hook that escapes Markdown syntax and HTML
(``|`` and backticks in table cells, ``<script>`` as text), the Markdown analogue of autoescape; only
values already marked as Markdown (``Markup``: macro output, syntax the template writes itself, generated
file paths) pass unchanged. The environment runs in autoescape mode only so that macro output is marked
safe; ``finalize`` returns Markup, so jinja's HTML escaping never applies on top.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from dlplayground.report.document import Document, Page

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
        ".svg": "image/svg+xml", ".webp": "image/webp"}


# -------------------------------------------------------------------------------------- markdown
_MD_CHARS = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^([#>+=-])")
_MD_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")  # "1. " starts a list; "0.376" does not


def md_inline(value: object) -> str:
    """Escape ``value`` for one line of Markdown (a table cell, a heading, a list item)."""
    text = " ".join(str(value).split("\n")).strip()
    text = html.escape(text, quote=False)  # & < > as entities: raw HTML in Markdown is rendered otherwise
    text = _MD_CHARS.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(r"\\\1", text)
    return _MD_ORDERED.sub(r"\1\\\2", text)


def md_paragraph(value: object) -> Markup:
    """Escape multi-paragraph prose: blank lines keep paragraphs apart, single newlines join lines."""
    paragraphs = [p for p in re.split(r"\n\s*\n", str(value)) if p.strip()]
    return Markup("\n\n".join(md_inline(p) for p in paragraphs))


def _md_finalize(value: object) -> Markup:
    return value if isinstance(value, Markup) else Markup(md_inline("" if value is None else value))


def md_url(path: str) -> Markup:
    return Markup(quote(path, safe="/._-"))


def html_text(value: object) -> Markup:
    """Text inside raw HTML in Markdown (a ``<summary>``): GitHub does not read Markdown escapes there."""
    return Markup(html.escape(" ".join(str(value).split())))


def _is_image(path: str) -> bool:
    return Path(path).suffix.lower() in MIME


def _markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dlplayground.report", "templates"), autoescape=True,
        finalize=_md_finalize, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md_paragraph=md_paragraph, md_url=md_url, safe_md=Markup, html_text=html_text)
    env.globals.update(is_image=_is_image)
    return env


def render_markdown(doc: Document, page: Page) -> str:
    text = _markdown_env().get_template("page.md.j2").render(doc=doc, page=page)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# ------------------------------------------------------------------------------------------ html
def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(doc: Document, page: Page) -> str:
    """One HTML page; its figures are linked by their path relative to the report folder."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dlplayground.report", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(is_image=_is_image)
    css = env.loader.get_source(env, "report.css")[0]  # type: ignore[union-attr]
    # The page runs no script at all (tests inject their own instrumentation into a copy of the page).
    csp = (f"default-src 'none'; img-src 'self'; style-src {_sha256_source(css)}; "
           "script-src 'none'; base-uri 'none'; form-action 'none'")
    return env.get_template("page.html.j2").render(doc=doc, page=page, css=Markup(css), csp=csp)
