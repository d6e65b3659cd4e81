"""Disorder ids are strict; names and patient ids are cleaned like every other text field."""

from __future__ import annotations

import pytest

from dysmorph_desk.errors import DataError, UsageError
from dysmorph_desk.gallery.ids import (
    check_disorder_id,
    clean_disorder_name,
    clean_patient_id,
    is_local,
)


@pytest.mark.parametrize(
    "value",
    [
        "OMIM:163950",
        "ORPHA:648",
        "ORPHA:1",
        "LOCAL:family-17",
        "LOCAL:a",
        "LOCAL:X_1.b",
        " OMIM:000001 ",
    ],
)
def test_valid_ids(value):
    assert check_disorder_id(value) == value.strip()


@pytest.mark.parametrize(
    "value",
    [
        "omim:163950",  # case matters: a near-miss would fall out of the ontology silently
        "OMIM 163950",
        "OMIM:16395",
        "OMIM:1639501",
        "ORPHANET:648",
        "ORPHA:0648",
        "ORPHA:",
        "LOCAL:",
        "LOCAL:-lead",
        "LOCAL:with space",
        "LOCAL:a/b",
        "LOCAL:" + "x" * 59,
        "HP:0000316",
        "noonan",
        "",
        "OMIM:１６３９５０",  # full-width digits
    ],
)
def test_invalid_ids_are_refused_in_one_line(value):
    with pytest.raises(UsageError) as err:
        check_disorder_id(value)
    assert "\n" not in str(err.value) and "not a disorder id" in str(err.value)
    assert err.value.exit_code == 2


def test_the_error_class_is_the_callers():
    with pytest.raises(DataError) as err:
        check_disorder_id("control", DataError, "labels.csv, line 3: ")
    assert str(err.value).startswith("labels.csv, line 3: ") and err.value.exit_code == 3


def test_local_ids_are_marked():
    assert is_local("LOCAL:fam") and not is_local("OMIM:163950") and not is_local("ORPHA:648")


def test_names_and_patient_ids_are_cleaned():
    assert clean_disorder_name("  Noonan\x1b[31m syndrome ", "OMIM:163950") == "Noonan[31m syndrome"
    assert clean_disorder_name("", "ORPHA:648") == "ORPHA:648"
    assert clean_patient_id(" P-17\u202e ") == "P-17"
    with pytest.raises(UsageError):
        clean_patient_id("   ")
    with pytest.raises(UsageError):
        clean_patient_id("x" * 65)
