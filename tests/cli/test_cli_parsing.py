"""The command line as a newcomer meets it: spellings accepted, one-line usage errors with a
"did you mean", and a ``--help`` that shows every default and speaks the user's language."""

from __future__ import annotations

import argparse
import re

import pytest

from dysmorph_desk import __version__
from dysmorph_desk.cli import build_parser
from tests.cli_helpers import run

ERROR = "dysmorph-desk: error:"


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def _one_error_line(code: int, out: str, err: str) -> str:
    """A usage error: exit 2, nothing on stdout, exactly one line on stderr, no usage dump."""
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR), err
    assert "usage:" not in err and "Traceback" not in err
    return lines[0]


# --- spellings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "sex"),
    [
        ("F", "female"),
        ("f", "female"),
        ("Female", "female"),
        ("M", "male"),
        ("MALE", "male"),
        ("U", "unknown"),
        ("unknown", "unknown"),
    ],
)
def test_sex_takes_common_spellings(given, sex):
    assert _parse("screen", "x.jpg", "--sex", given).sex == sex


def test_sex_defaults_read_as_words():
    assert _parse("screen", "x.jpg").sex == "unknown"
    assert _parse("demo").sex == "female"


@pytest.mark.parametrize(
    ("given", "months"), [("30", 30.0), ("2y6m", 30.0), ("2y", 24.0), ("6m", 6.0), ("2.5y", 30.0)]
)
def test_age_takes_months_or_years_and_months(given, months):
    assert _parse("screen", "x.jpg", "--age", given).age == months


def test_demo_age_default_is_eight_years():
    assert _parse("demo").age == 96.0


def test_age_help_states_the_unit():
    text = _help("screen")
    assert "months (30)" in text and "2y6m" in text


# --- usage errors: one line, a pointer to --help, exit 2 ------------------------------------------


def test_bad_sex_is_one_line_naming_what_is_accepted(capsys):
    line = _one_error_line(*run(capsys, "screen", "x.jpg", "--sex", "other"))
    assert "--sex" in line and "F, M or U" in line
    assert "see `dysmorph-desk screen --help`" in line


def test_bad_age_is_one_line(capsys):
    line = _one_error_line(*run(capsys, "screen", "x.jpg", "--age", "2x"))
    assert "--age" in line and "2y6m" in line


def test_unknown_command_suggests_the_nearest(capsys):
    line = _one_error_line(*run(capsys, "scren", "x.jpg"))
    assert "did you mean 'screen'?" in line and "see `dysmorph-desk --help`" in line


def test_unknown_choice_suggests_the_nearest(capsys):
    line = _one_error_line(*run(capsys, "screen", "x.jpg", "--cam", "gradcma"))
    assert "did you mean 'gradcam'?" in line and "--cam" in line


def test_unknown_option_is_reported_by_its_command_with_the_nearest(capsys):
    line = _one_error_line(*run(capsys, "screen", "x.jpg", "--sexx", "F"))
    assert "did you mean --sex?" in line and "see `dysmorph-desk screen --help`" in line


def test_nested_command_errors_point_to_their_own_help(capsys):
    line = _one_error_line(*run(capsys, "keys"))
    assert "see `dysmorph-desk keys --help`" in line


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("screen", "x.jpg", "--face", "one"), "is not a whole number"),
        (("screen", "x.jpg", "--prevalence", "1"), "between 0 and 1"),
        (("screen", "x.jpg", "--prevalence", "abc"), "is not a number"),
        (("train", "--data", "d", "--out", "o", "--arch", "vgg16", "--epochs", "ten"), "whole"),
        ((), "required: COMMAND"),
    ],
)
def test_argument_errors_read_plainly(capsys, argv, words):
    line = _one_error_line(*run(capsys, *argv))
    assert words in line and "invalid int value" not in line


def test_escape_codes_in_a_bad_value_are_not_echoed(capsys):
    line = _one_error_line(*run(capsys, "screen", "x.jpg", "--cam", "\x1b[31mred"))
    assert "\x1b" not in line


def test_version_still_works(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"dysmorph-desk {__version__}"


# --- --help: defaults shown, every option explained, no internal jargon ---------------------------


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


ALL = list(_parsers(build_parser()))
JARGON = re.compile(r"\bseeds? \d{3}\b|\bmodel \d\b|\(00\d\)")


def _help(*path: str) -> str:
    """A command's --help on one long line per option (no wrapping to split words)."""
    return " ".join(dict(ALL)[path].format_help().split())


@pytest.fixture(autouse=True)
def _wide_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at the terminal width


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) or "top" for p, _ in ALL])
def test_every_option_has_help_and_its_default(path, parser):
    text = parser.format_help()
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{' '.join(path)} {action.option_strings or action.dest}: no help"
        default = action.default
        meaningful = default not in (None, False, "", [], argparse.SUPPRESS) and action.nargs != 0
        if meaningful and action.option_strings:
            help_text = parser._get_formatter()._expand_help(action)
            assert "default" in help_text.lower(), (path, action.option_strings, help_text)
    assert "(default: None)" not in text and "(default: False)" not in text
    assert not JARGON.search(text), JARGON.search(text)


def test_training_defaults_are_shown():
    train = _help("train")
    for shown in ("(default: 10)", "(default: 16)", "(default: 0.001)"):
        assert shown in train, shown
    assert "1%" not in train  # the option takes a fraction: the help says so
    assert "fraction between 0 and 1" in train


def test_make_synthetic_and_screen_photos_are_explained():
    synthetic = _help("make-synthetic")
    assert "photos of each class" in synthetic and "(default: 3)" in synthetic
    screen = _help("screen")
    assert "folders of photos" in screen and "--recursive" in screen


def test_help_names_the_settings_defaults_truly():
    """The defaults the help quotes for settings-backed options are the settings' own."""
    from dysmorph_desk.settings import Settings

    fresh = Settings()
    screen = _help("screen")
    assert f"default_models setting, {', '.join(fresh.screening.default_models)})" in screen
    assert f"report.prevalence setting, {fresh.report.prevalence:g})" in screen
    assert f"cam_method setting, {fresh.heatmap.cam_method})" in screen


def test_archs_speaks_of_papers_not_seeds(capsys):
    pytest.importorskip("torch")
    code, out, err = run(capsys, "archs")
    assert code == 0, err
    assert not JARGON.search(out), JARGON.search(out)
    line = next(row for row in out.splitlines() if row.startswith("mobilenetv2_bilstm\t"))
    assert "Rezaee 2024" in line and "proposed" in line
    assert all(row.split("\t")[3] != "-" for row in out.splitlines()), out
