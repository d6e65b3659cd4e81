"""The offline user guide: the committed HTML is what the builder makes today, every link and image
resolves inside the guide, every page says "screening aid", every shipped bundle has a page, Qt's
text browser renders the pages with their style sheet and images, and ``dysmorph_desk.userguide``
finds them without Qt or Markdown."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dysmorph_desk.screening.results import DISCLAIMER
from dysmorph_desk.userguide import GuideNotFound, guide_dir, guide_page, guide_pages

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "resources" / "guide"
REBUILD = "the committed user guide is out of date: run `python scripts/build_guide.py`"
MAX_IMAGE_BYTES = 150 * 1024


@pytest.fixture(scope="module")
def builder():
    """scripts/build_guide.py as a module (it is a build script, not part of the package)."""
    pytest.importorskip("markdown")  # build-time only: the runtime-only install lacks it
    spec = importlib.util.spec_from_file_location(
        "build_guide", REPO / "scripts" / "build_guide.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_guide"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(builder):
    return builder.build_guide()


class _Links(HTMLParser):
    """Every link, image, anchor target and element of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.targets: set[str] = set()
        self.tags: list[str] = []
        self.anchor_text: dict[int, str] = {}
        self._open_a: int | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.targets.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append((tag, key, a[key]))
        if tag == "a" and a.get("href") is not None:
            self._open_a = len(self.links) - 1
            self.anchor_text[self._open_a] = ""

    def handle_data(self, data):
        if self._open_a is not None:
            self.anchor_text[self._open_a] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._open_a = None


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages() -> list[Path]:
    return sorted(GUIDE.glob("*.html"))


# --- the committed HTML is current ----------------------------------------------------------------


def test_committed_guide_equals_a_fresh_build(builder, built):
    stale = builder.stale_files(built, GUIDE)
    assert not stale, f"{REBUILD} (stale: {', '.join(stale)})"


def test_build_is_deterministic(builder, built):
    assert builder.build_guide() == built


def test_every_shipped_bundle_has_a_page_linked_from_the_models_page(builder):
    bundles = sorted((REPO / "models").glob("*.ddbundle"))
    assert bundles, "no shipped bundles to describe"
    models_links = {value for _, _, value in _parse(GUIDE / "models.html").links}
    for bundle in bundles:
        page = builder.page_name(bundle)
        assert (GUIDE / f"{page}.html").is_file(), f"{bundle.name}: no page ({REBUILD})"
        assert f"{page}.html" in models_links, f"{bundle.name}: not listed on models.html"


def test_a_bundle_the_installers_leave_out_says_so_on_its_page_and_in_the_list(builder):
    """The guide ships inside the installed app: it must not present a model the app lacks as
    shipped (installer/contents.py is the one list, read by the spec and the guide builder)."""
    left_out = builder.left_out_bundles()
    assert left_out, "the installers leave no bundle out: drop this test with the list"
    models_html = (GUIDE / "models.html").read_text(encoding="utf-8")
    for name in left_out:
        assert (REPO / "models" / name).is_file(), f"{name}: listed as left out but not shipped"
        page = (GUIDE / f"{builder.page_name(REPO / 'models' / name)}.html").read_text("utf-8")
        assert "Not in the installers." in page and "models --install" in page
        line = next(li for li in models_html.split("<li>") if Path(name).stem in li)
        assert "not in the installers" in line
    for bundle in (REPO / "models").glob("*.ddbundle"):
        if bundle.name not in left_out:
            page = (GUIDE / f"{builder.page_name(bundle)}.html").read_text(encoding="utf-8")
            assert "Not in the installers." not in page


def test_bundle_pages_state_the_card_with_intervals_or_say_they_are_unknown(builder):
    from dysmorph_desk.bundles.format import read_header

    for bundle in sorted((REPO / "models").glob("*.ddbundle")):
        info = read_header(bundle, "shipped")
        text = (GUIDE / f"{builder.page_name(bundle)}.html").read_text(encoding="utf-8")
        assert info.card.status_label in text
        assert info.sha256 in text
        assert info.card.architecture in text
        rates = info.card.rates()
        if rates is not None:
            assert "95% CI" in text
            if rates.interval_unknown:
                assert "interval unknown" in text.lower()


def test_a_card_counted_per_child_gets_intervals_ppv_subgroups_and_escaped_text(builder):
    from types import SimpleNamespace

    from tests.fakes import card

    counts = {"unit": "child", "tp": 45, "fn": 5, "tn": 190, "fp": 10, "n_children": 250}
    subgroups = {
        "age_band": {"1-3 y": {"unit": "child", "tp": 20, "fn": 2, "tn": 80, "fp": 4}},
        "sex": {"female": {"unit": "child", "tp": 2, "fn": 1, "tn": 3, "fp": 0}},
    }
    info = SimpleNamespace(
        card=card(
            "clinic-<b>x</b>",
            status="research",
            intended_use="<script>alert(1)</script> screening",
            validation_metrics={"counts": counts, "subgroups": subgroups, "auc": 0.93},
        ),
        trust=None,
        sha256="ab" * 32,
    )
    body = builder.bundle_body(info, {"activation_shape": [512, 7, 7]}, 0.01)
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "clinic-&lt;b&gt;x&lt;/b&gt;" in body
    assert "<td>90.0%</td><td>78.2–96.7%</td><td>50</td>" in body  # sensitivity, 95% CI, n
    assert "Counted per child: 250 children" in body
    assert "PPV " in body and "at prevalence 1%" in body
    assert "age 1-3 y (106 children): sensitivity 90.9%" in body
    assert "sex female: not validated for this group (6 children" in body
    assert "7 × 7 cells" in body


def test_an_unknown_fact_or_an_undescribed_quality_check_stops_the_build(builder, tmp_path):
    source = tmp_path / "guide"
    shutil.copytree(REPO / "docs" / "guide", source)
    page = source / "index.md"
    original = page.read_text(encoding="utf-8")
    page.write_text(original + "\n{{ no_such_fact }}\n", encoding="utf-8")
    with pytest.raises(builder.GuideSourceError, match="no_such_fact"):
        builder.build_guide(source)
    page.write_text(original, encoding="utf-8")
    photos = source / "photos.md"
    photos.write_text(
        photos.read_text(encoding="utf-8").replace("{{ q.blur.limit }}", "15"), encoding="utf-8"
    )
    with pytest.raises(builder.GuideSourceError, match=r"q\.blur\.limit"):
        builder.build_guide(source)


def test_numbers_on_the_pages_come_from_the_code(builder):
    from dysmorph_desk.faces.quality import MIN_FACE_IOD_PX, QualityLimits
    from dysmorph_desk.screening.stability import UNSTABLE_WIDTH

    limits = QualityLimits()
    photos = (GUIDE / "photos.html").read_text(encoding="utf-8")
    for value in (limits.min_iod_px, limits.min_blur, limits.max_yaw_deg, limits.max_pitch_deg):
        assert f"at least {value:g}" in photos or f"at most {value:g}" in photos
    assert f"Under <strong>{MIN_FACE_IOD_PX:g} pixels</strong>" in photos
    results = (GUIDE / "results.html").read_text(encoding="utf-8")
    assert f"more than {UNSTABLE_WIDTH * 100:g} percentage points" in results


# --- what every page holds ------------------------------------------------------------------------


def test_every_page_says_screening_aid_and_has_the_navigation_line(builder):
    pages = _pages()
    assert {p.stem for p in pages} >= {name for name, _ in builder.PAGES}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert DISCLAIMER in text, page.name
        assert "screening aid, not a diagnosis" in text.lower(), page.name
        assert "{{" not in text and "}}" not in text, f"{page.name}: an unfilled fact"
        hrefs = {value for tag, _, value in _parse(page).links if tag == "a"}
        for name, _label in builder.PAGES:
            assert name == page.stem or f"{name}.html" in hrefs, f"{page.name}: no link to {name}"


def test_every_link_and_image_resolves_inside_the_guide():
    targets = {p.name: _parse(p).targets for p in _pages()}
    for page in _pages():
        parsed = _parse(page)
        assert not {"script", "iframe", "object", "embed", "form"} & set(parsed.tags), page.name
        for i, (tag, _attr, value) in enumerate(parsed.links):
            parts = urlsplit(value)
            if parts.scheme in ("http", "https"):
                # a plainly-labelled reference only: the reader sees exactly where it goes
                assert tag == "a" and parsed.anchor_text.get(i, "").strip() == value, (
                    f"{page.name}: external link {value!r} not shown as its address"
                )
                continue
            assert not parts.scheme and not parts.netloc, f"{page.name}: {value!r}"
            file = unquote(parts.path) or page.name
            resolved = (page.parent / file).resolve()
            assert resolved.is_relative_to(GUIDE.resolve()), f"{page.name}: {value!r} leaves it"
            assert resolved.is_file(), f"{page.name}: {value!r} does not exist"
            if parts.fragment:
                assert parts.fragment in targets.get(resolved.name, set()), (
                    f"{page.name}: no anchor #{parts.fragment} in {resolved.name}"
                )


def test_screenshots_exist_and_are_small():
    images = sorted((GUIDE / "images").glob("*.png"))
    referenced = {value for p in _pages() for tag, _, value in _parse(p).links if tag == "img"}
    assert referenced, "the guide shows no screenshot"
    assert {f"images/{p.name}" for p in images} >= referenced
    for image in images:
        size = image.stat().st_size
        assert size <= MAX_IMAGE_BYTES, f"{image.name}: {size // 1024} KB"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the runtime API ------------------------------------------------------------------------------


def test_guide_page_finds_every_page():
    pages = guide_pages()
    assert pages[0] == "index"
    assert set(pages) == {p.stem for p in _pages()}
    for name in pages:
        path = guide_page(name)
        assert path.is_file() and path.parent == guide_dir() and path.name == f"{name}.html"
    assert guide_page() == guide_page("index")
    assert guide_page("Results.html") == guide_page("results")


def test_every_help_link_of_the_app_opens_a_page_of_the_guide():
    """A "?" link names its page in the source (``help_link("results", ...)``): each exists, and
    the Differential tab has one."""
    pattern = re.compile(r"help_link\(\s*\"([a-z0-9-]+)\"")
    named = {
        (path.name, page)
        for path in (REPO / "dysmorph_desk" / "gui").glob("*.py")
        for page in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert ("differential_panel.py", "differential") in named
    for where, page in sorted(named):
        assert guide_page(page).is_file(), f"{where}: help link to a missing page {page!r}"


@pytest.mark.parametrize("name", ["no-such-page", "../README", "/etc/passwd", "", "index\x00"])
def test_guide_page_refuses_unknown_names(name):
    with pytest.raises(GuideNotFound, match=r"no user guide page .*pages: index, "):
        guide_page(name)


def test_userguide_imports_neither_qt_nor_markdown():
    code = (
        "import sys; from dysmorph_desk.userguide import guide_page; guide_page('photos'); "
        "print(sorted(m for m in ('markdown', 'PySide6', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


# --- Qt's text browser renders it -----------------------------------------------------------------


def _css_colour(selector: str) -> str:
    css = (GUIDE / "guide.css").read_text(encoding="utf-8")
    match = re.search(
        rf"^{re.escape(selector)} \{{[^}}]*?[^-]color: (#[0-9a-fA-F]{{6}})", css, re.M
    )
    assert match, f"guide.css has no colour for {selector}"
    return match.group(1).lower()


def test_qtextbrowser_renders_every_page_with_its_style_and_images(qtbot):
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QTextBrowser

    browser = QTextBrowser()
    qtbot.addWidget(browser)
    browser.setOpenLinks(False)  # nothing is followed outside the test's control
    h1_colour = _css_colour("h1")
    for name in guide_pages():
        browser.setSource(QUrl.fromLocalFile(str(guide_page(name))))
        doc = browser.document()
        text = doc.toPlainText()
        assert "screening aid, not a diagnosis" in text.lower(), name
        assert "{{" not in text and "](" not in text and "**" not in text, f"{name}: raw markdown"
        title = doc.metaInformation(QTextDocument.MetaInformation.DocumentTitle)
        assert title.endswith("DysmorphDesk user guide"), name
        block, heading, images = doc.begin(), None, []
        while block.isValid():
            if heading is None and block.blockFormat().headingLevel() == 1:
                heading = block
            it = block.begin()
            while not it.atEnd():
                fmt = it.fragment().charFormat()
                if fmt.isImageFormat():
                    images.append(fmt.toImageFormat().name())
                it += 1
            block = block.next()
        assert heading is not None, f"{name}: no h1"
        colour = heading.begin().fragment().charFormat().foreground().color().name()
        assert colour == h1_colour, f"{name}: guide.css not applied (h1 {colour})"
        for src in images:
            image = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(src))
            assert image is not None and not image.isNull(), f"{name}: image {src} not loaded"
