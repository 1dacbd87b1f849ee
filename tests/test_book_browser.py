"""The built ``ci`` book in a real browser, and its page weight.

The book is rendered into a temporary folder (never over ``book/_build`` or ``book/*.ipynb``) from
the committed ci-executed notebooks ``tests/notebooks/NN_*.ipynb`` (the same files nbval checks in
this run), the pages and static files in ``book/``, ``_config.yml`` and ``_toc.yml``, with
``tmvlib.cli.render_book`` (what ``tmv book`` runs after the chapters). Pages are every entry of
``_toc.yml``, read at collection time, so a page added to the table of contents is tested without
touching this file; an entry without a source (no ``book/<page>.md``, no
``tests/notebooks/<page>.ipynb``) fails the build fixture with its name.

Each page is opened in headless Chromium (Debian's package; ``make browser`` installs it, see
``scripts/install_browser.sh``) with the network off. A page fails on a console error, an uncaught
exception or a browser error (a blocked request, a missing file), or on a chart container
(``div.tmv-chart``) without a drawn svg/canvas. Full-page screenshots go to
``artifacts/browser/<page>.png``. Without a Chromium executable those tests are skipped with the
reason; the page-weight tests need no browser and always run.
"""
from __future__ import annotations

import html.parser
import shutil
import struct
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from headless_chromium import Chromium, find_chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]  # renders the ci book and opens it in chromium

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "browser"
INSTALL_NOTE = SCREENSHOTS / "chromium-install.txt"  # written by scripts/install_browser.sh
PAGE_LIMIT = 5_000_000        # bytes: HTML + its images + the project's own static files
IMAGE_LIMIT = 1_000_000       # bytes per image
IMAGE_MAX_WIDTH = 1600        # px: twice the content column, enough for a high-density screen
PAGE_SOURCES = (".md", ".ipynb", ".rst")


# -- which pages, and where their sources are --------------------------------------------------
def toc_pages(toc: dict) -> list[str]:
    """Every document of a jupyter-book ``_toc.yml`` (root first, then in reading order)."""
    pages = [toc["root"]] if toc.get("root") else []

    def walk(entries):
        for entry in entries or []:
            if "glob" in entry:
                raise ValueError(f"_toc.yml entry {entry} uses a glob; list the pages so the "
                                 "browser test can find their sources")
            if "file" in entry:
                pages.append(str(Path(entry["file"]).with_suffix("")))
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    walk([{key: toc[key]} for key in ("parts", "chapters", "sections") if key in toc])
    return pages


def assemble_ci_book(repo: Path, dest: Path) -> list[str]:
    """Copy what the ``ci`` book is made of into ``dest`` with the project's layout; return the
    pages. Markdown pages and static files come from ``book/``; chapters (notebooks) from the
    committed ci-executed copies in ``tests/notebooks/``. Raises naming every page of
    ``_toc.yml`` that has neither."""
    pages = toc_pages(yaml.safe_load((repo / "_toc.yml").read_text()))
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml", *(p.name for p in repo.glob("*.bib"))):
        shutil.copy2(repo / name, dest / name)
    shutil.copytree(repo / "book", dest / "book", dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        "_build", "jupyter_execute", ".ipynb_checkpoints", "*.ipynb", "tmv-vega.js"))
    missing = []
    for page in pages:
        if any((repo / page).with_suffix(suffix).is_file() for suffix in (".md", ".rst")):
            continue
        reference = repo / "tests" / "notebooks" / f"{Path(page).name}.ipynb"
        if reference.is_file():
            (dest / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(reference, (dest / page).with_suffix(".ipynb"))
        else:
            missing.append(f"{page} (no {page}.md and no tests/notebooks/{Path(page).name}.ipynb)")
    if missing:
        raise FileNotFoundError(
            "pages of _toc.yml with no source for the ci book: " + "; ".join(missing)
            + ". A chapter needs its ci-executed reference: `make refs` writes tests/notebooks/.")
    return pages


# -- page weight --------------------------------------------------------------------------------
class _Resources(html.parser.HTMLParser):
    """Local files a page loads: (kind, url) for img/source/script/link/video/iframe/..."""

    ATTRS: ClassVar[dict[str, tuple[str, ...]]] = {
        "img": ("src", "srcset"), "source": ("src", "srcset"), "script": ("src",),
        "link": ("href",), "video": ("src", "poster"), "audio": ("src",),
        "iframe": ("src",), "embed": ("src",), "object": ("data",), "input": ("src",)}

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and not {"stylesheet", "icon", "preload", "modulepreload"} & set(
                (attrs.get("rel") or "").lower().split()):
            return
        for name in self.ATTRS.get(tag, ()):
            value = attrs.get(name) or ""
            urls = [part.strip().split()[0] for part in value.split(",") if part.strip()] \
                if name == "srcset" else [value]
            self.found += [(tag, url) for url in urls if url]


def page_weight(page: Path, html_root: Path, own_static: set[str]) -> list[tuple[str, int]]:
    """``(file, bytes)`` of what a reader downloads for ``page``: the HTML, every local image it
    shows, and the project's own static files (``own_static``: names in ``book/_static``, e.g.
    the vega bundle). The theme's CSS/JS/fonts, the same on every page and not the project's,
    are left out."""
    parser = _Resources()
    parser.feed(page.read_text(errors="replace"))
    items = {str(page.relative_to(html_root)): page.stat().st_size}
    for tag, url in parser.found:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:  # remote or data: URIs (inline data is in the HTML)
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        if not target.is_file() or not target.is_relative_to(html_root.resolve()):
            continue
        relative = target.relative_to(html_root.resolve())
        shared = relative.parts[0] == "_static" and target.name not in own_static
        if tag in ("img", "source", "video", "input") or not shared:
            items[str(relative)] = target.stat().st_size
    return sorted(items.items(), key=lambda item: -item[1])


def image_size(path: Path) -> tuple[str, int, int]:
    """``(format, width, height)`` of a PNG or JPEG from its header; ``(other, 0, 0)`` else."""
    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:2] == b"\xff\xd8":
        from PIL import Image

        with Image.open(path) as image:
            return "jpeg", *image.size
    return path.suffix.lstrip(".") or "unknown", 0, 0


# -- fixtures -----------------------------------------------------------------------------------
PAGES = toc_pages(yaml.safe_load((REPO / "_toc.yml").read_text()))


def screenshot_name(page: str) -> str:
    """``book/01_data`` -> ``01_data`` (the whole path, ``/`` as ``__``, if names repeat)."""
    names = [Path(p).name for p in PAGES]
    return Path(page).name if names.count(Path(page).name) == 1 else page.replace("/", "__")


@pytest.fixture(scope="module")
def ci_book(tmp_path_factory) -> Path:
    """The ci book rendered in a temporary folder; returns its HTML folder."""
    from tmvlib.cli import render_book

    root = tmp_path_factory.mktemp("ci-book")
    assemble_ci_book(REPO, root)
    started = time.perf_counter()
    html = render_book(root, quiet=True)
    print(f"[tmv] ci book rendered in {time.perf_counter() - started:.0f} s: {html}")
    return html


def chromium_or_skip() -> str:
    executable = find_chromium()
    if executable is None:
        note = INSTALL_NOTE.read_text().strip() if INSTALL_NOTE.is_file() else ""
        pytest.skip("chromium not installed: " + (note or "no chromium on PATH; `make browser` "
                                                  "(scripts/install_browser.sh) installs Debian's "
                                                  "package"))
    return executable


@pytest.fixture(scope="module")
def browser():
    with Chromium(chromium_or_skip()) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


# -- the checker must see breakage ---------------------------------------------------------------
def test_checker_reports_broken_pages(browser, tmp_path):
    """Deliberately broken pages must fail the checker, and a good one must pass, so that the
    page tests below cannot pass by checking nothing."""
    import altair as alt

    from tmvlib.cli import write_vega_bundle
    from tmvlib.report.charts import offline_html

    write_vega_bundle(tmp_path)
    bundle = '<script src="book/_static/tmv-vega.js"></script>'
    good = offline_html(alt.Chart(alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 1}]))
                        .mark_line().encode(x="x:Q", y="y:Q").to_dict())
    bad_spec = offline_html({"mark": "no-such-mark", "data": {"values": [{"x": 1}]}})
    pages = {
        "good": bundle + good,
        "bad_spec": bundle + bad_spec,
        "console": bundle + "<script>console.error('deliberate failure')</script>",
        "exception": "<script>null.boom();</script>",
        "network": '<img src="https://example.org/pixel.png">',
        "no_bundle": '<script src="book/_static/missing.js"></script>' + good,
    }
    reports = {}
    for name, body in pages.items():
        page = tmp_path / f"{name}.html"
        page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}"
                        "</body></html>")
        reports[name] = browser.check(page.as_uri(), chart_wait=15 if name == "good" else 2)

    assert reports["good"].problems == [], reports["good"].problems
    assert len(reports["good"].charts) == 1 and not reports["good"].broken_charts
    bad_id = bad_spec.split('id="', 1)[1].split('"', 1)[0]
    assert [c.split(" ")[0] for c in reports["bad_spec"].broken_charts] == [bad_id]
    assert reports["bad_spec"].errors, "a spec vega cannot compile must show as an error"
    assert any("deliberate failure" in e for e in reports["console"].errors)
    assert any("boom" in e for e in reports["exception"].errors)
    assert any("example.org" in e for e in reports["network"].errors), reports["network"].errors
    assert reports["no_bundle"].broken_charts and any(
        "missing.js" in e for e in reports["no_bundle"].errors)


# -- every page of the ci book -----------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chromium(page, ci_book, browser, screenshots, capsys):
    target = ci_book / f"{page}.html"
    assert target.is_file(), f"{page}: no {target.relative_to(ci_book)} in the built book"
    shot = screenshots / f"{screenshot_name(page)}.png"
    report = browser.check(target.as_uri(), screenshot=shot)
    with capsys.disabled():
        print(f"\n[tmv] {page}: {len(report.charts)} chart(s), {report.seconds:.1f} s, "
              f"screenshot {shot.relative_to(REPO)}", end="")
    if report.problems:
        pytest.fail(f"{page} ({target.name}):\n  " + "\n  ".join(report.problems), pytrace=False)


# -- page weight -------------------------------------------------------------------------------
def test_page_weight_counts_images_and_own_static_files(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"x" * 1000)
    (tmp_path / "_static" / "theme.css").write_bytes(b"x" * 500)
    (tmp_path / "_static" / "tmv-vega.js").write_bytes(b"x" * 300)
    page = tmp_path / "p.html"
    page.write_text('<link rel="stylesheet" href="_static/theme.css"><script src='
                    '"_static/tmv-vega.js?v=1"></script><img src="_images/a.png">'
                    '<img src="_images/a.png"><img src="https://example.org/b.png">')
    items = dict(page_weight(page, tmp_path, {"tmv-vega.js"}))
    assert items == {"p.html": page.stat().st_size, "_images/a.png": 1000,
                     "_static/tmv-vega.js": 300}


@pytest.mark.parametrize("page", PAGES)
def test_page_weight(page, ci_book):
    """No page over 5 MB; its images are PNG/JPEG, at most 1600 px wide and 1 MB each."""
    own_static = {p.name for p in (ci_book.parents[2] / "book" / "_static").iterdir()}
    items = page_weight(ci_book / f"{page}.html", ci_book, own_static)
    total = sum(size for _, size in items)
    biggest = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in items[:4])
    assert total <= PAGE_LIMIT, f"{page}: {total / 1e6:.1f} MB > 5 MB; biggest: {biggest}"
    bad = []
    for name, size in items:
        if not name.startswith("_images/"):
            continue
        kind, width, _ = image_size(ci_book / name)
        if kind not in ("png", "jpeg"):
            bad.append(f"{name} is {kind}, not PNG/JPEG")
        elif width > IMAGE_MAX_WIDTH:
            bad.append(f"{name} is {width} px wide (> {IMAGE_MAX_WIDTH})")
        if size > IMAGE_LIMIT:
            bad.append(f"{name} is {size / 1e6:.2f} MB (> {IMAGE_LIMIT / 1e6:g} MB)")
    assert not bad, f"{page}: " + "; ".join(bad)


def test_a_toc_page_without_a_source_is_named(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "tests" / "notebooks").mkdir(parents=True)
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "tests" / "notebooks" / "01_data.ipynb").write_text("{}")
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                       "  - file: book/01_data\n  - file: book/08_trust_card\n")
    with pytest.raises(FileNotFoundError, match=r"book/08_trust_card \(no book/08_trust_card.md "
                                                r"and no tests/notebooks/08_trust_card.ipynb\)"):
        assemble_ci_book(tmp_path, tmp_path / "out")
    (tmp_path / "tests" / "notebooks" / "08_trust_card.ipynb").write_text("{}")
    assert assemble_ci_book(tmp_path, tmp_path / "out") == [
        "book/intro", "book/01_data", "book/08_trust_card"]
    assert (tmp_path / "out" / "book" / "08_trust_card.ipynb").is_file()
    assert (tmp_path / "out" / "book" / "intro.md").is_file()
