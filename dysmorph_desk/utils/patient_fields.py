"""The spellings people type for a child's sex and age, turned into what a record holds.

One parser for every front end (the CLI's ``--sex``/``--age``, the app's case panel, imported
records), so ``F``, ``female`` and ``Female`` mean the same everywhere and an age can be typed the
way clinicians write it (``2y6m``) as well as in months (``30``).

Pure functions: no I/O, no state. Both raise ``ValueError`` with a one-line message that says what
is accepted, so a caller can show it as is (the CLI wraps it in its usage error, exit 2).
"""

from __future__ import annotations

import math
import re

SEX_VALUES = ("female", "male", "unknown")  # what records, JSON, FHIR and DICOM hold
SEX_SPELLINGS: dict[str, str] = {
    "f": "female",
    "female": "female",
    "m": "male",
    "male": "male",
    "u": "unknown",
    "unknown": "unknown",
}
SEX_HELP = "F, M or U (female, male, unknown; any case)"

AGE_MAX_MONTHS = 12 * 120  # the limit CaseInfo enforces: 120 years
AGE_HELP = "months (30), or years and months (2y6m, 2y, 6m)"

_NUMBER = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_YEARS = r"y|yr|yrs|year|years"
_MONTHS = r"m|mo|mos|month|months"
_AGE = re.compile(
    rf"(?:(?P<years>{_NUMBER})\s*(?:{_YEARS}))?\s*(?:(?P<months>{_NUMBER})\s*(?:{_MONTHS}))?",
    re.ASCII | re.IGNORECASE,
)
_PLAIN = re.compile(rf"[+-]?(?:{_NUMBER})", re.ASCII)
_SHOWN_MAX = 20  # characters of a bad value quoted back in a message


def _quoted(text: str) -> str:
    """A value quoted back to the user: bounded, printable (it came from the command line)."""
    short = text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"
    return repr("".join(ch if ch.isprintable() else "?" for ch in short))


def parse_sex(text: str) -> str:
    """``female``, ``male`` or ``unknown`` from any common spelling.

    Args:
        text: ``F``/``M``/``U`` or ``female``/``male``/``unknown``, in any case, spaces around
            ignored.

    Returns:
        One of ``SEX_VALUES``.

    Raises:
        ValueError: anything else (the message lists what is accepted).

    Example:
        >>> parse_sex("F"), parse_sex(" Male "), parse_sex("u")
        ('female', 'male', 'unknown')
    """
    value = SEX_SPELLINGS.get(text.strip().casefold())
    if value is None:
        raise ValueError(f"{_quoted(text)} is not a sex this record can hold; use {SEX_HELP}")
    return value


def parse_age_months(text: str) -> float:
    """An age in months from ``30`` (months), ``2y6m``, ``2y``, ``6m`` or ``2 years 6 months``.

    A bare number is months (as everywhere in DysmorphDesk: JSON, records, model cards). Years may
    be fractional (``2.5y`` is 30 months); months after years must be under 12 (``2y13m`` is
    refused as a likely typo). Units: ``y``/``yr``/``yrs``/``year``/``years`` and
    ``m``/``mo``/``mos``/``month``/``months``, any case, spaces allowed.

    Args:
        text: what the user typed.

    Returns:
        The age in months, 0 to ``AGE_MAX_MONTHS`` (1440, 120 years).

    Raises:
        ValueError: not an age in these forms, or outside 0-1440 months.

    Example:
        >>> parse_age_months("2y6m"), parse_age_months("30"), parse_age_months("6m")
        (30.0, 30.0, 6.0)
    """
    s = text.strip()
    if _PLAIN.fullmatch(s):
        months = float(s)
    else:
        match = _AGE.fullmatch(s)
        if not s or match is None or not (match["years"] or match["months"]):
            raise ValueError(f"{_quoted(text)} is not an age; give {AGE_HELP}")
        years = float(match["years"] or 0)
        extra = float(match["months"] or 0)
        if match["years"] and extra >= 12:
            raise ValueError(
                f"{_quoted(text)}: months after years must be under 12 (did you mean "
                f"{format_age_months(years * 12 + extra)}?)"
            )
        months = years * 12 + extra
    if not math.isfinite(months) or not 0 <= months <= AGE_MAX_MONTHS:
        raise ValueError(
            f"{_quoted(text)} is outside 0-{AGE_MAX_MONTHS} months (0-{AGE_MAX_MONTHS // 12} years)"
        )
    return months


def format_age_months(months: float) -> str:
    """The compact spelling of an age that ``parse_age_months`` reads back: ``2y6m``, ``6m``.

    Whole months only when the age is whole; otherwise the months keep one decimal (``1y2.5m``).

    Example:
        >>> format_age_months(30), format_age_months(24), format_age_months(7.5)
        ('2y6m', '2y', '7.5m')
    """
    if not math.isfinite(months) or months < 0:
        raise ValueError("an age is a finite number of months, 0 or more")
    years, rest = divmod(months, 12)
    rest = round(rest, 1)
    if rest >= 12:  # 23.96 months: rounds up to a whole year
        years, rest = years + 1, 0.0
    part = f"{rest:g}m" if rest else ""
    if not years:
        return part or "0m"
    return f"{int(years)}y{part}"
