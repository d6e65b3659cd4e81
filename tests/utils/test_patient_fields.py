"""The one parser of a child's sex and age (CLI ``--sex``/``--age``; the app may reuse it)."""

from __future__ import annotations

import pytest

from dysmorph_desk.utils.patient_fields import (
    AGE_MAX_MONTHS,
    SEX_VALUES,
    format_age_months,
    parse_age_months,
    parse_sex,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("F", "female"),
        ("f", "female"),
        ("Female", "female"),
        ("FEMALE", "female"),
        (" female ", "female"),
        ("M", "male"),
        ("male", "male"),
        ("Male", "male"),
        ("U", "unknown"),
        ("unknown", "unknown"),
        ("Unknown", "unknown"),
    ],
)
def test_sex_spellings(text, expected):
    assert parse_sex(text) == expected
    assert expected in SEX_VALUES


@pytest.mark.parametrize("text", ["", "other", "x", "fem", "女", "f\x1b[31m", "girl"])
def test_sex_refused_with_what_is_accepted(text):
    with pytest.raises(ValueError) as err:
        parse_sex(text)
    message = str(err.value)
    assert "F, M or U" in message and "female" in message
    assert "\x1b" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("30", 30.0),
        ("30.5", 30.5),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("1440", 1440.0),
        ("2y6m", 30.0),
        ("2Y6M", 30.0),
        ("2y 6m", 30.0),
        ("2 y 6 m", 30.0),
        ("2 years 6 months", 30.0),
        ("1 year", 12.0),
        ("2yrs 11mo", 35.0),
        ("2y", 24.0),
        ("2.5y", 30.0),
        ("6m", 6.0),
        ("18m", 18.0),  # months alone may exceed 11
        ("0.5m", 0.5),
        ("120y", 1440.0),
    ],
)
def test_age_spellings(text, months):
    assert parse_age_months(text) == pytest.approx(months)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not an age"),
        ("abc", "not an age"),
        ("2y6", "not an age"),  # months without their unit: ambiguous
        ("6m2y", "not an age"),
        ("y", "not an age"),
        ("nan", "not an age"),
        ("inf", "not an age"),
        ("1e3", "not an age"),
        ("٣٠", "not an age"),  # Arabic-Indic digits: not silently read as 30
        ("-3", "outside 0-1440"),
        ("1441", "outside 0-1440"),
        ("121y", "outside 0-1440"),
        ("2y13m", "under 12"),
    ],
)
def test_age_refused_with_a_reason(text, why):
    with pytest.raises(ValueError) as err:
        parse_age_months(text)
    assert why in str(err.value)
    assert "\n" not in str(err.value)


def test_a_months_overflow_suggests_the_spelling_meant():
    with pytest.raises(ValueError, match=r"did you mean 3y1m\?"):
        parse_age_months("2y13m")


@pytest.mark.parametrize(
    ("months", "text"),
    [(0, "0m"), (6, "6m"), (12, "1y"), (30, "2y6m"), (7.5, "7.5m"), (23.96, "2y"), (1440, "120y")],
)
def test_format_age_reads_back(months, text):
    assert format_age_months(months) == text
    assert parse_age_months(text) == pytest.approx(round(months, 1), abs=0.05)


def test_format_age_every_whole_month_round_trips():
    for months in range(AGE_MAX_MONTHS + 1):
        assert parse_age_months(format_age_months(months)) == months


def test_format_age_refuses_nonsense():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            format_age_months(bad)
