"""The GA4GH Phenopacket export of a case's differential (records/phenopacket.py).

The differentials are real ones (``build_differential`` over a random gallery whose patient ids
are "SECRET-<n>", and the shipped HPO data), or hand-built where a case needs exact values. Each
phenopacket is checked by hand against the v2.0 message shapes and, where the official bindings
(the ``phenopackets`` package) are installed, parsed by them as well.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

from dysmorph_desk import __version__
from dysmorph_desk.differential.fusion import DifferentialRow
from dysmorph_desk.differential.result import (
    DIFFERENTIAL_DISCLAIMER,
    DifferentialResult,
    GalleryFacts,
    HpoTerm,
)
from dysmorph_desk.differential.service import build_differential
from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.phenopacket import (
    iso_age,
    phenopacket,
    phenopacket_bytes,
    write_phenopacket,
)
from dysmorph_desk.screening.results import CaseInfo
from tests.fakes import bare_result, case, model_result
from tests.gallery.helpers import SHA, FakeBundle, random_gallery

CREATED = "2025-03-01T10:00:00+01:00"
TERMS = ["HP:0000316", "HP:0000494"]

# The v2.0 messages this export uses: their JSON field names (protobuf camelCase), required ones
# starred. From the schema's documentation (phenopacket-schema.readthedocs.io) and its .proto.
_FIELDS: dict[str, set[str]] = {
    "Phenopacket": {
        "*id",
        "subject",
        "phenotypicFeatures",
        "measurements",
        "biosamples",
        "interpretations",
        "diseases",
        "medicalActions",
        "files",
        "*metaData",
    },
    "Individual": {
        "*id",
        "alternateIds",
        "dateOfBirth",
        "timeAtLastEncounter",
        "vitalStatus",
        "sex",
        "karyotypicSex",
        "gender",
        "taxonomy",
    },
    "PhenotypicFeature": {
        "description",
        "*type",
        "excluded",
        "severity",
        "modifiers",
        "onset",
        "resolution",
        "evidence",
    },
    "OntologyClass": {"*id", "*label"},
    "Interpretation": {"*id", "*progressStatus", "diagnosis", "summary"},
    "Diagnosis": {"*disease", "genomicInterpretations"},
    "MetaData": {
        "*created",
        "*createdBy",
        "submittedBy",
        "*resources",
        "updates",
        "*phenopacketSchemaVersion",
        "externalReferences",
    },
    "Resource": {"*id", "*name", "*url", "*version", "*namespacePrefix", "*iriPrefix"},
}
_SEXES = {"UNKNOWN_SEX", "FEMALE", "MALE", "OTHER_SEX"}
_PROGRESS = {"UNKNOWN_PROGRESS", "IN_PROGRESS", "COMPLETED", "SOLVED", "UNSOLVED"}


def _check(message: str, value: dict[str, Any]) -> None:
    """``value`` has only ``message``'s fields, all its required ones, none empty."""
    allowed = {f.lstrip("*") for f in _FIELDS[message]}
    required = {f[1:] for f in _FIELDS[message] if f.startswith("*")}
    assert set(value) <= allowed, f"{message}: unknown fields {set(value) - allowed}"
    assert required <= set(value), f"{message}: missing {required - set(value)}"
    for key in required - {"resources"}:  # no CURIE used, no resource: check_structure
        assert value[key] not in ("", None, [], {}), f"{message}.{key} is empty"


def check_structure(packet: dict[str, Any]) -> None:
    """The phenopacket, checked by hand against the v2.0 shapes (the bindings may be absent)."""
    _check("Phenopacket", packet)
    subject = packet["subject"]
    _check("Individual", subject)
    assert subject["sex"] in _SEXES
    if "timeAtLastEncounter" in subject:
        assert set(subject["timeAtLastEncounter"]) == {"age"}
        assert set(subject["timeAtLastEncounter"]["age"]) == {"iso8601duration"}
    for feature in packet.get("phenotypicFeatures", []):
        _check("PhenotypicFeature", feature)
        _check("OntologyClass", feature["type"])
    for interpretation in packet["interpretations"]:
        _check("Interpretation", interpretation)
        assert interpretation["progressStatus"] in _PROGRESS
        if "diagnosis" in interpretation:
            _check("Diagnosis", interpretation["diagnosis"])
            _check("OntologyClass", interpretation["diagnosis"]["disease"])
    meta = packet["metaData"]
    _check("MetaData", meta)
    for resource in meta["resources"]:
        _check("Resource", resource)
    # every CURIE used has its resource, and every resource is used
    used = {c["id"].split(":")[0] for c in _classes(packet)}
    assert used == {r["namespacePrefix"] for r in meta["resources"]}


def _classes(packet: dict[str, Any]) -> list[dict[str, str]]:
    return [f["type"] for f in packet.get("phenotypicFeatures", [])] + [
        i["diagnosis"]["disease"] for i in packet["interpretations"] if "diagnosis" in i
    ]


def _result_with(vector: np.ndarray):
    m = dataclasses.replace(model_result("unit-model"), bundle_sha256=SHA, embedding=vector)
    return bare_result(m)


def _vector_of(gallery, disorder: str) -> np.ndarray:
    number = next(n for n, e in gallery.entries.items() if e.disorder_id == disorder)
    return gallery.sets[SHA].vector_of(number)


@pytest.fixture(scope="module")
def gallery():
    return random_gallery(1)


@pytest.fixture(scope="module")
def combined(gallery) -> DifferentialResult:
    """Face and terms: gallery ORPHA:/LOCAL: disorders and annotated OMIM/ORPHA diseases."""
    photo = _result_with(_vector_of(gallery, "LOCAL:fam-4"))
    return build_differential([photo], gallery=gallery, bundles=[FakeBundle()], hpo_terms=TERMS)


@pytest.fixture(scope="module")
def face_only(gallery) -> DifferentialResult:
    photo = _result_with(_vector_of(gallery, "ORPHA:102"))
    return build_differential([photo], gallery=gallery, bundles=[FakeBundle()])


def test_a_real_differential_is_a_valid_phenopacket(combined):
    packet = phenopacket(case(), combined, created=CREATED)
    check_structure(packet)
    assert packet["subject"]["id"] == "P-0017"
    assert packet["metaData"]["phenopacketSchemaVersion"] == "2.0"
    assert packet["metaData"]["created"] == "2025-03-01T09:00:00Z"  # +01:00 as UTC


def _shapes(combined: DifferentialResult, face_only: DifferentialResult) -> list[dict[str, Any]]:
    """Every shape the export takes: terms and candidates, face only, each sex, no age, no
    patient id, an obsolete term, no candidates."""
    obsolete = DifferentialResult(
        rows=[_row(1, "OMIM:154700", phenotype_score=1.5, in_ontology=True)],
        hpo_terms=[HpoTerm("HP:0000316", "Hypertelorism", entered_as="HP:0000578")],
        hpo_release="2025-01-16",
    )
    return [
        phenopacket(case(), combined, created=CREATED),
        phenopacket(case(sex="male", age_months=None), face_only, created=CREATED),
        phenopacket(case(sex="unknown", age_months=7.5), combined, created=CREATED),
        phenopacket(CaseInfo(), face_only, created=CREATED),
        phenopacket(case(), obsolete, created=CREATED),
        phenopacket(case(), DifferentialResult(rows=[]), created=CREATED),
    ]


def test_the_official_bindings_read_every_shape_back_unchanged(combined, face_only):
    """The ``phenopackets`` package (GA4GH's protobuf bindings) parses each packet, unknown
    fields being errors, and writes the same JSON back: every name, enum and value is the
    schema's."""
    json_format = pytest.importorskip("google.protobuf.json_format")
    v2 = pytest.importorskip(
        "phenopackets.schema.v2", reason="the phenopackets bindings are not installed"
    )
    for packet in _shapes(combined, face_only):
        check_structure(packet)
        msg = json_format.Parse(json.dumps(packet, allow_nan=False), v2.Phenopacket())
        back = json_format.MessageToDict(msg)
        expected = json.loads(json.dumps(packet))
        if expected["subject"]["sex"] == "UNKNOWN_SEX":  # enum 0: protobuf JSON leaves it out
            del expected["subject"]["sex"]
        if not expected["metaData"]["resources"]:  # an empty list likewise
            del expected["metaData"]["resources"]
        assert back == expected
    msg = json_format.Parse(json.dumps(_shapes(combined, face_only)[0]), v2.Phenopacket())
    assert [i.diagnosis.disease.id for i in msg.interpretations] == [
        r.disorder_id for r in combined.rows
    ]
    assert msg.subject.time_at_last_encounter.age.iso8601duration == "P2Y6M"


def test_terms_and_candidates_in_rank_order(combined):
    packet = phenopacket(case(), combined, created=CREATED)
    assert [f["type"] for f in packet["phenotypicFeatures"]] == [
        {"id": t.id, "label": t.label} for t in combined.hpo_terms
    ]
    assert packet["phenotypicFeatures"][0]["type"]["label"] == "Hypertelorism"
    interpretations = packet["interpretations"]
    assert len(interpretations) == len(combined.rows) == 10
    for k, (interp, row) in enumerate(zip(interpretations, combined.rows, strict=True), 1):
        assert row.rank == k
        assert interp["id"].endswith(f"/candidate-{k}")
        assert interp["progressStatus"] == "IN_PROGRESS"  # under consideration, never SOLVED
        assert interp["diagnosis"]["disease"] == {"id": row.disorder_id, "label": row.name}
        assert interp["summary"].startswith(f"Candidate {k} of 10 in a ranked differential")
        assert DIFFERENTIAL_DISCLAIMER in interp["summary"]
        assert f"Combined score {round(row.combined_score, 6):g}" in interp["summary"]
    # candidates are not diagnoses: nothing in `diseases`
    assert "diseases" not in packet
    prefixes = {r.disorder_id.split(":")[0] for r in combined.rows}
    assert "LOCAL" in prefixes and prefixes & {"OMIM", "ORPHA"}


def test_each_sources_score_is_the_rows(combined):
    packet = phenopacket(case(), combined, created=CREATED)
    for interp, row in zip(packet["interpretations"], combined.rows, strict=True):
        text = interp["summary"]
        if row.gestalt_distance is not None:
            assert f"cosine distance {round(row.gestalt_distance, 6):g}" in text
            e, d = row.nearest_entries[0]
            assert f"entry {e} at {round(d, 6):g}" in text
        if row.phenotype_score is not None:
            assert f"score {round(row.phenotype_score, 6):g} for the 2 entered HPO terms" in text
            assert f"HPO release {combined.hpo_release}" in text
        if row.disorder_id.startswith("LOCAL:"):
            assert "ranks by the face alone" in text


def test_resources_name_each_prefix_with_its_version(combined, gallery):
    packet = phenopacket(case(), combined, created=CREATED)
    resources = {r["namespacePrefix"]: r for r in packet["metaData"]["resources"]}
    hp = resources["HP"]
    assert hp["id"] == "hp" and hp["version"] == combined.hpo_release
    assert hp["iriPrefix"] == "http://purl.obolibrary.org/obo/HP_"
    for prefix in {"OMIM", "ORPHA"} & set(resources):
        assert combined.hpo_release in resources[prefix]["version"]
    assert combined.gallery is not None
    local = resources["LOCAL"]
    assert local["version"] == combined.gallery.sha256
    assert local["url"] == f"urn:dysmorph-desk:gallery:{combined.gallery.sha256}"
    assert "local" in local["name"] and "not a public" in local["name"]
    assert packet["metaData"]["createdBy"] == f"DysmorphDesk {__version__}"


def test_face_only_has_no_hpo_resource_and_versions_say_so(face_only):
    packet = phenopacket(case(), face_only, created=CREATED)
    check_structure(packet)
    assert "phenotypicFeatures" not in packet
    resources = {r["namespacePrefix"]: r for r in packet["metaData"]["resources"]}
    assert set(resources) == {"ORPHA", "LOCAL"}
    assert resources["ORPHA"]["version"].startswith("not recorded")
    assert packet["interpretations"][0]["diagnosis"]["disease"]["id"] == "ORPHA:102"
    assert "no HPO terms were entered" in packet["interpretations"][0]["summary"]


def test_no_gallery_patient_id_operator_or_notes(combined, face_only, gallery):
    secrets = {e.patient_id for e in gallery.entries.values()}
    assert secrets and all(s.startswith("SECRET-") for s in secrets)
    who = case(operator="Dr Operator", notes="private remark")
    for diff in (combined, face_only):
        data = phenopacket_bytes(who, diff, created=CREATED).decode("utf-8")
        assert "SECRET-" not in data
        assert "Dr Operator" not in data and "private remark" not in data
        assert json.loads(data)["subject"]["id"] == "P-0017"


@pytest.mark.parametrize(
    ("sex", "expected"), [("female", "FEMALE"), ("male", "MALE"), ("unknown", "UNKNOWN_SEX")]
)
def test_sex(combined, sex, expected):
    packet = phenopacket(case(sex=sex), combined, created=CREATED)
    assert packet["subject"]["sex"] == expected
    check_structure(packet)


def test_age_and_its_absence(combined):
    packet = phenopacket(case(age_months=30.0), combined, created=CREATED)
    age = packet["subject"]["timeAtLastEncounter"]["age"]["iso8601duration"]
    assert age == "P2Y6M"
    packet = phenopacket(case(age_months=None), combined, created=CREATED)
    assert "timeAtLastEncounter" not in packet["subject"]
    check_structure(packet)


@pytest.mark.parametrize(
    ("months", "duration"),
    [
        (30, "P2Y6M"),
        (12, "P1Y"),
        (5, "P5M"),
        (0, "P0D"),
        (7.5, "P7M15D"),
        (0.5, "P15D"),
        (11.999, "P1Y"),
        (1440, "P120Y"),
    ],
)
def test_iso_age(months, duration):
    assert iso_age(months) == duration


@pytest.mark.parametrize("months", [-1.0, math.nan, math.inf])
def test_iso_age_refuses_what_is_no_age(months):
    with pytest.raises(ValueError):
        iso_age(months)


def test_a_case_without_patient_id_gets_a_generated_stable_one(combined):
    anon = CaseInfo(sex="female", age_months=12)
    a = phenopacket(anon, combined, created=CREATED)
    b = phenopacket(anon, combined, created=CREATED)
    assert a["subject"]["id"].startswith("subject-") and a["subject"]["id"] == b["subject"]["id"]
    assert a["subject"]["id"] != a["id"]
    check_structure(a)


def test_the_builder_is_pure_and_ids_follow_the_inputs(combined):
    one = phenopacket_bytes(case(), combined, created=CREATED)
    assert one == phenopacket_bytes(case(), combined, created=CREATED)
    other = phenopacket(case(), combined, created="2025-03-02T10:00:00Z")
    assert other["id"] != json.loads(one)["id"]
    named = phenopacket(case(), combined, created=CREATED, packet_id="clinic-42")
    assert named["id"] == "clinic-42"
    assert named["interpretations"][0]["id"] == "clinic-42/candidate-1"


def test_bytes_are_strict_utf8_json_with_indent_2(combined):
    data = phenopacket_bytes(case(), combined, created=CREATED)
    assert data.endswith(b"}\n") and b'\n  "subject": {' in data
    assert json.loads(data.decode("utf-8")) == phenopacket(case(), combined, created=CREATED)
    # default `created`: now, in UTC
    packet = json.loads(phenopacket_bytes(case(), combined))
    assert packet["metaData"]["created"].endswith("Z")


def _row(rank: int, disorder_id: str, **kw: Any) -> DifferentialRow:
    values: dict[str, Any] = {
        "name": f"Disorder {rank}",
        "gestalt_distance": 0.25,
        "nearest_entries": ((3, 0.25),),
        "phenotype_score": None,
        "combined_score": 0.5,
        "in_ontology": False,
    }
    values.update(kw)
    return DifferentialRow(rank=rank, disorder_id=disorder_id, **values)


def test_missing_or_non_finite_scores_are_left_out_never_nan():
    diff = DifferentialResult(
        rows=[
            _row(1, "OMIM:154700", gestalt_distance=math.nan, combined_score=math.inf),
            _row(2, "ORPHA:558", gestalt_distance=None, nearest_entries=()),
        ]
    )
    data = phenopacket_bytes(case(), diff, created=CREATED)  # allow_nan=False inside
    packet = json.loads(data)
    check_structure(packet)
    first, second = (i["summary"] for i in packet["interpretations"])
    assert "nan" not in first.lower() and "inf" not in first.lower()
    assert "Combined score" not in first
    assert "no gallery patient of this disorder was compared" in second
    json.dumps(packet, allow_nan=False)


def test_an_obsolete_term_says_what_it_was_entered_as():
    diff = DifferentialResult(
        rows=[_row(1, "OMIM:154700", phenotype_score=1.5, in_ontology=True)],
        hpo_terms=[HpoTerm("HP:0000316", "Hypertelorism", entered_as="HP:0000578")],
        hpo_release="2025-01-16",
    )
    packet = phenopacket(case(), diff, created=CREATED)
    check_structure(packet)
    feature = packet["phenotypicFeatures"][0]
    assert feature["type"] == {"id": "HP:0000316", "label": "Hypertelorism"}
    assert "HP:0000578" in feature["description"] and "obsolete" in feature["description"]


def test_no_close_match_is_said_with_the_computed_numbers():
    facts = GalleryFacts(sha256="ab" * 32, entries=40, disorders=8, bundle="unit", threshold=0.6)
    diff = DifferentialResult(
        rows=[_row(1, "ORPHA:558", gestalt_distance=0.8)], gallery=facts, nearest_distance=0.8
    )
    assert diff.no_close_match
    summary = phenopacket(case(), diff, created=CREATED)["interpretations"][0]["summary"]
    assert "No close match" in summary and "distance 0.8" in summary and "0.6" in summary
    assert f"Gallery SHA-256 {'ab' * 32} (40 entries, 8 disorders" in summary


def test_no_candidates_gives_one_interpretation_without_diagnosis():
    packet = phenopacket(case(), DifferentialResult(rows=[]), created=CREATED)
    check_structure(packet)
    (only,) = packet["interpretations"]
    assert "diagnosis" not in only and only["progressStatus"] == "IN_PROGRESS"
    assert DIFFERENTIAL_DISCLAIMER in only["summary"]
    assert packet["metaData"]["resources"] == []


def test_bad_inputs_are_clear_value_errors():
    with pytest.raises(ValueError, match="not an OMIM:, ORPHA: or LOCAL: disorder id"):
        phenopacket(case(), DifferentialResult(rows=[_row(1, "DECIPHER:1")]), created=CREATED)
    with pytest.raises(ValueError):
        phenopacket(case(), DifferentialResult(rows=[]), created="yesterday")


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path, combined):
    out = tmp_path / "case.phenopacket.json"
    write_phenopacket(out, case(), combined, created=CREATED)
    assert out.read_bytes() == phenopacket_bytes(case(), combined, created=CREATED)
    with pytest.raises(UsageError):
        write_phenopacket(out, case(), combined, created=CREATED)
    write_phenopacket(out, case(), combined, created=CREATED, force=True)
