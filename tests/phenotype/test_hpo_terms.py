"""Typed HPO ids: current ids kept, obsolete ones mapped with a note, unknown ones refused."""

from __future__ import annotations

import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype import (
    UnknownDiseaseError,
    UnknownTermError,
    disease_info,
    disease_name,
    has_disease,
    is_disease_id,
    load_ontology,
    parse_term_list,
    resolve_entered,
    resolve_terms,
    term_info,
)
from dysmorph_desk.phenotype.ontology import ALIAS_ALT, ALIAS_NO_REPLACEMENT, ALIAS_REPLACED


def test_current_ids_in_any_spelling_are_kept_once():
    resolved, notes = resolve_terms([" HP:0000316", "hp:0000494", "HP_0000316"])
    assert resolved == ["HP:0000316", "HP:0000494"]
    assert notes == []


def test_alternative_id_maps_to_its_term_with_a_note():
    # hp.obo: HP:0000316 Hypertelorism lists alt_id HP:0000578
    resolved, notes = resolve_terms(["HP:0000578"])
    assert resolved == ["HP:0000316"]
    assert notes == [
        "HP:0000578 is an alternative id of HP:0000316 (Hypertelorism); using HP:0000316"
    ]


def test_resolve_entered_says_what_each_current_id_was_typed_as():
    r = resolve_entered(["hp:0000494", "HP_0000316", "HP:0000578", "HP:0010905"])
    assert r.ids == ["HP:0000494", "HP:0000316", "HP:0010904"]
    # the PURL spelling is not a different id; the alternative id typed after its term adds nothing
    assert r.entered_as == {"HP:0010904": "HP:0010905"}
    assert len(r.messages) == 2
    assert resolve_entered(["HP:0000578"]).entered_as == {"HP:0000316": "HP:0000578"}


def test_obsolete_id_maps_to_replaced_by_with_a_note():
    onto = load_ontology()
    # hp.obo: HP:0010905 is obsolete, replaced_by HP:0010904 (though HP:0002927 lists it as
    # alt_id: the explicit replaced_by wins)
    assert onto.alias(10905) == (ALIAS_REPLACED, [onto.term_row(10904)])
    resolved, notes = resolve_terms(["HP:0010905"])
    assert resolved == ["HP:0010904"]
    assert notes == [
        f"HP:0010905 is obsolete; replaced by HP:0010904 ({onto.names[onto.term_row(10904)]})"
    ]


def test_every_alias_kind_is_present_and_points_at_current_terms():
    onto = load_ontology()
    kinds = set(onto.alias_kind.tolist())
    assert kinds == {ALIAS_ALT, ALIAS_REPLACED, ALIAS_NO_REPLACEMENT}
    for number in onto.alias_number.tolist():
        assert onto.term_row(number) is None  # never both an alias and a current term


def test_unknown_and_malformed_ids_are_refused_in_one_line_naming_them():
    with pytest.raises(UnknownTermError) as exc:
        resolve_terms(["HP:0000316", "HP:9999999", "eyes", "HP:123"])
    msg = str(exc.value)
    assert isinstance(exc.value, UsageError) and exc.value.exit_code == 2
    assert "\n" not in msg
    assert "unknown HPO term ids: HP:9999999" in msg
    assert "'eyes'" in msg and "'HP:123'" in msg
    assert "HP:0000316" not in msg


def test_obsolete_without_replacement_is_refused_with_what_to_consider():
    onto = load_ontology()
    i = next(
        i
        for i, k in enumerate(onto.alias_kind.tolist())
        if k == ALIAS_NO_REPLACEMENT and onto.alias_indptr[i + 1] > onto.alias_indptr[i]
    )
    number = int(onto.alias_number[i])
    consider = onto.term_id(int(onto.alias_index[onto.alias_indptr[i]]))
    with pytest.raises(UnknownTermError, match="obsolete HPO terms without a replacement") as exc:
        resolve_terms([f"HP:{number:07d}"])
    assert consider in str(exc.value)


def test_control_characters_in_a_bad_id_are_not_echoed():
    with pytest.raises(UnknownTermError) as exc:
        resolve_terms(["HP:\x1b[31m0000316"])
    assert "\x1b" not in str(exc.value)


def test_parse_term_list():
    assert parse_term_list("HP:0000316,HP:0000494") == ["HP:0000316", "HP:0000494"]
    assert parse_term_list(" HP:0000316 , HP:0000494;HP:0001250 ") == [
        "HP:0000316",
        "HP:0000494",
        "HP:0001250",
    ]
    assert parse_term_list("") == []
    with pytest.raises(UsageError, match="too many"):
        parse_term_list(",".join(["HP:0000316"] * 201))


def test_term_info_has_synonyms_and_parents():
    term, notes = term_info("HP:0000316")
    assert (term.id, term.name, notes) == ("HP:0000316", "Hypertelorism", [])
    assert "Wide-set eyes" in term.synonyms
    assert ("HP:0100886", "Abnormality of globe location") in term.parents


def test_disease_helpers():
    onto = load_ontology()
    some = str(onto.disease_ids[0])
    assert has_disease(some) and disease_name(some) == onto.disease_names[0]
    assert has_disease(some.lower())  # "omim:..." is the same id
    info = disease_info(some)
    assert info.id == some and info.term_ids and all(t.startswith("HP:") for t in info.term_ids)
    orpha = next(d for d in onto.disease_ids.tolist() if d.startswith("ORPHA:"))
    assert has_disease(orpha.replace("ORPHA:", "ORPHANET:"))
    assert is_disease_id("OMIM:999999") and not has_disease("OMIM:999999")
    assert disease_name("OMIM:999999") is None
    assert not is_disease_id("LOCAL:1") and not is_disease_id("OMIM:abc")
    with pytest.raises(UnknownDiseaseError, match="no phenotype annotation"):
        disease_info("OMIM:999999")
    with pytest.raises(UnknownDiseaseError, match="not an OMIM or ORPHA id"):
        disease_info("clinic-17")
