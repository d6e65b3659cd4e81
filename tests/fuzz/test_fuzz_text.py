"""``screen``'s free-text options: bounded, cleaned, and never able to break the JSON or the PDF.

Limits (``dysmorph_desk/utils/inputs.py``): --patient-id 64, --operator 128, --clinic 128, --notes
4000 characters. Over the limit: exit 2, one error line naming the limit, nothing written. At the
limit (unbroken words, wide characters, many lines): exit 0 and the PDF renders. Escape codes, NUL,
bidi overrides and non-UTF-8 argv bytes are cleaned (exit 0), never echoed raw; emoji are kept.
"""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.helpers import CLI, first_photo, fuzz_settings, pdf_text, strict_json

LIMITS = {"--patient-id": 64, "--operator": 128, "--clinic": 128, "--notes": 4000}
IN_JSON = {"--patient-id": "patient_id", "--operator": "operator"}  # notes/clinic: PDF only


@pytest.fixture(scope="module")
def photo(portraits) -> Path:
    return portraits["grace_hopper"]


def _screen(dd: CLI, tmp_path: Path, photo: Path, expected: int, *opts: str):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    j, r = out / "r.json", out / "r.pdf"
    result = dd.expect(
        expected, "screen", photo, "--json", j, "--report", r, "--cam", "none", *opts
    )
    if expected != 0:
        assert list(out.iterdir()) == [], "outputs written for refused options"
        return result, None
    data = first_photo(strict_json(j.read_bytes()))
    assert r.read_bytes().startswith(b"%PDF-")
    return result, data


# --- over the limit: 2, the limit named -----------------------------------------------------------

OVER = [
    ("--patient-id", 65),
    ("--operator", 129),
    ("--clinic", 129),
    ("--notes", 4001),
    ("--patient-id", 1_000_000),  # refused without cleaning a megabyte
]


@pytest.mark.parametrize(
    ("option", "length"),
    [
        pytest.param(o, n, id=f"{o[2:]}-{n}", marks=() if n in (65, 4001) else pytest.mark.slow)
        for o, n in OVER
    ],
)
def test_over_the_limit_is_a_usage_error_naming_it(dd, tmp_path, photo, option, length):
    result, _ = _screen(dd, tmp_path, photo, 2, option, "x" * length)
    assert str(LIMITS[option]) in result.message, result.message
    field = option[2:].replace("-", " ")  # "--patient-id" or "patient ID"
    assert option in result.message or field in result.message.lower(), result.message


def test_over_the_limit_with_json_only_is_still_refused(dd, tmp_path, photo):
    """--clinic is only used by the report; over its limit it is still a usage error."""
    j = tmp_path / "r.json"
    result = dd.expect(2, "screen", photo, "--json", j, "--clinic", "c" * 129, "--cam", "none")
    assert "128" in result.message
    assert not j.exists()


# --- at the limit: 0, and the PDF renders ---------------------------------------------------------


def _at_limit(kind: str, n: int) -> str:
    if kind == "unbroken":
        return "W" * n  # the widest Latin letter, no break opportunity
    if kind == "emoji":
        return "\U0001f476" * n  # one code point each, a font fallback on every one
    if kind == "cjk":
        return "漢" * n
    if kind == "lines":
        return "a\n" * (n // 2)  # notes only: n/2 lines
    raise AssertionError(kind)


AT_LIMIT = [
    ("--patient-id", "unbroken"),
    ("--operator", "unbroken"),
    ("--clinic", "unbroken"),
    ("--notes", "unbroken"),
    ("--notes", "lines"),
    ("--patient-id", "emoji"),
    ("--clinic", "cjk"),
    ("--notes", "cjk"),
]
FAST_AT_LIMIT = {("--patient-id", "unbroken"), ("--notes", "unbroken")}


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        pytest.param(
            o, k, id=f"{o[2:]}-{k}", marks=() if (o, k) in FAST_AT_LIMIT else pytest.mark.slow
        )
        for o, k in AT_LIMIT
    ],
)
def test_at_the_limit_screens_and_the_pdf_renders(dd, tmp_path, photo, option, kind):
    value = _at_limit(kind, LIMITS[option])
    _, data = _screen(dd, tmp_path, photo, 0, option, value)
    assert data is not None
    if option in IN_JSON:
        assert data["case"][IN_JSON[option]] == value.strip()


@pytest.mark.slow
def test_every_field_at_its_limit_at_once(dd, tmp_path, photo):
    opts = [x for o, n in LIMITS.items() for x in (o, "M" * n)]
    _, data = _screen(dd, tmp_path, photo, 0, *opts)
    assert data is not None and data["case"]["patient_id"] == "M" * 64
    text = pdf_text(tmp_path / "out" / "r.pdf")
    assert "M" * 20 in text


# --- control and invisible characters: cleaned, 0 -------------------------------------------------

HOSTILE_TEXT = [
    ("esc", "P-01\x1b[31m\x1b]0;title\x07", "P-01[31m]0;title"),
    ("nul", "A\x00B", "AB"),
    ("rtl-override", "\u202eABC-123\u202c", "ABC-123"),
    ("bidi-isolate", "\u2067ID\u2069", "ID"),
    ("emoji", "\U0001f476\U0001f3fd baby", "\U0001f476\U0001f3fd baby"),
    ("zwj-family", "\U0001f468\u200d\U0001f469\u200d\U0001f467", None),
    ("combining", "e\u0301" * 10, unicodedata.normalize("NFC", "e\u0301" * 10)),
    ("lone-surrogate", "A\ud800B", "A\ufffdB"),
    ("noncharacter", "A\uffffB\ufeff", "AB"),
    ("newlines", "line1\nline2\r\nline3", "line1 line2 line3"),
    ("c1-controls", "A\x85B\x9bC", "A BC"),
]
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
FAST_HOSTILE = {"esc", "nul", "rtl-override", "emoji"}


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        pytest.param(v, c, id=i, marks=() if i in FAST_HOSTILE else pytest.mark.slow)
        for i, v, c in HOSTILE_TEXT
    ],
)
def test_control_and_invisible_characters_are_cleaned(dd, tmp_path, photo, value, cleaned):
    opts = ["--patient-id", value, "--operator", value, "--notes", value, "--clinic", value]
    result, data = _screen(dd, tmp_path, photo, 0, *opts)
    assert data is not None
    for key in ("patient_id", "operator"):
        got = data["case"][key]
        assert not any(unicodedata.category(ch) == "Cc" or ch in BIDI for ch in got), repr(got)
        if cleaned is not None:
            assert got == cleaned, (key, got)
    assert "\x1b" not in result.out + result.err
    assert "\x1b" not in pdf_text(tmp_path / "out" / "r.pdf")


@pytest.mark.slow
def test_non_utf8_argv_bytes_are_replaced(dd, tmp_path, photo):
    """The real process: argv bytes that are not UTF-8 become U+FFFD, never a crash (0)."""
    j, r = tmp_path / "r.json", tmp_path / "r.pdf"
    raw = b"P-\xff\xfe\xe9-01"
    dd.expect_sub(
        0,
        "screen",
        photo,
        "--json",
        j,
        "--report",
        r,
        "--cam",
        "none",
        b"--patient-id",
        raw,
        b"--operator",
        b"Dr \xc3\xa9\xff",
        b"--notes",
        b"\x1b[2J\xff",
        b"--clinic",
        b"Clinic \xfe",
    )
    data = first_photo(strict_json(j.read_bytes()))
    assert data["case"]["patient_id"] == "P-\ufffd\ufffd\ufffd-01"
    assert data["case"]["operator"] == "Dr é\ufffd"
    assert r.read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_batch_with_too_long_text_writes_nothing(dd, tmp_path, photo):
    out = tmp_path / "batch"
    dd.expect(2, "screen", photo, photo, "--out-dir", out, "--operator", "o" * 129, "--cam", "none")
    assert not out.exists() or list(out.iterdir()) == []


# --- random Unicode: the text the JSON and the PDF receive ---------------------------------------

_any_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=80
)


@pytest.mark.parametrize(
    "max_examples",
    [pytest.param(4, id="fast"), pytest.param(40, id="slow", marks=pytest.mark.slow)],
)
def test_random_unicode_text_screens_or_is_refused_as_too_long(dd, tmp_path, photo, max_examples):
    """Any text (surrogates, controls, combining marks, astral planes): 0 with exactly what
    ``clean_text`` keeps in the JSON and a PDF that renders, or 2 when that is over the limit."""
    from dysmorph_desk.errors import UsageError
    from dysmorph_desk.utils.inputs import clean_text

    seen: list[int] = []
    counter = itertools.count()

    @fuzz_settings(max_examples)
    @given(patient_id=_any_text, notes=_any_text)
    def fuzz(patient_id: str, notes: str) -> None:
        folder = tmp_path / f"case{next(counter)}"
        folder.mkdir()
        try:
            expected_id = clean_text(patient_id, LIMITS["--patient-id"], "--patient-id")
            expected = 0
        except UsageError:
            expected, expected_id = 2, ""
        j, r = folder / "r.json", folder / "r.pdf"
        dd.expect(
            expected,
            "screen",
            photo,
            "--json",
            j,
            "--report",
            r,
            "--cam",
            "none",
            f"--patient-id={patient_id}",  # "=": a value may start with "-"
            f"--notes={notes}",
            f"--operator={notes[:128]}",
        )
        seen.append(expected)
        if expected == 0:
            data = first_photo(strict_json(j.read_bytes()))
            assert data["case"]["patient_id"] == expected_id
            assert r.read_bytes().startswith(b"%PDF-")
        else:
            assert not j.exists() and not r.exists()

    fuzz()
    assert 0 in seen, "every example was refused: the PDF path was never exercised"
