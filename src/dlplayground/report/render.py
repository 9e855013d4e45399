"""Render a ``Document`` as Markdown and as self-contained HTML, escaping every value.

HTML: jinja2 with autoescape, figures embedded as base64 data URIs so the one file works as a CI artifact
or from disk, and a Content-Security-Policy that allows only the page's own (hashed) style and script and
``data:`` images: even a value that slipped past escaping could not run a script or load anything from the
network. The small script records load errors and how many images rendered into ``<html data-*>``
attributes, which the browser test reads.

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

from dlplayground.report.document import Document

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


def _is_image(path: str) -> bool:
    return Path(path).suffix.lower() in MIME


def _markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dlplayground.report", "templates"), autoescape=True,
        finalize=_md_finalize, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md_paragraph=md_paragraph, md_url=md_url, safe_md=Markup)
    env.globals.update(is_image=_is_image)
    return env


def render_markdown(doc: Document) -> str:
    text = _markdown_env().get_template("index.md.j2").render(doc=doc)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# ------------------------------------------------------------------------------------------ html
def data_uri(path: Path) -> str | None:
    """The file as a base64 ``data:`` URI, or None for formats a browser does not show inline."""
    mime = MIME.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(doc: Document, base_dir: Path) -> str:
    """The HTML page; figures are read from ``base_dir`` (the report folder) and embedded."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dlplayground.report", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    css = env.loader.get_source(env, "report.css")[0]  # type: ignore[union-attr]
    # The page runs no script at all (tests inject their own instrumentation into a copy of the page).
    csp = (f"default-src 'none'; img-src data:; style-src {_sha256_source(css)}; "
           "script-src 'none'; base-uri 'none'; form-action 'none'")
    return env.get_template("index.html.j2").render(
        doc=doc, css=Markup(css), csp=csp,
        embed=lambda rel: data_uri(base_dir / rel),
    )
