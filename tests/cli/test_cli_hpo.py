"""``dysmorph-desk hpo search|show``, called through a parser built by ``register`` alone."""

from __future__ import annotations

import argparse
import json

import pytest

from dysmorph_desk.cli.hpo import register
from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype import load_ontology


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dysmorph-desk")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_search_prints_id_name_and_the_synonym(capsys):
    args = parse("hpo", "search", "wide-set eyes", "--limit", "3")
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "HP:0000316\tHypertelorism\t[synonym: Wide-set eyes]"
    assert len(lines) <= 3
    assert f"release {load_ontology().version}" in err


def test_search_json(capsys):
    args = parse("hpo", "search", "hypertelorism", "--json")
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hpo_version"] == load_ontology().version and doc["query"] == "hypertelorism"
    assert doc["results"][0] == {
        "id": "HP:0000316",
        "name": "Hypertelorism",
        "matched": "Hypertelorism",
        "match": "exact",
        "synonym": False,
    }
    assert len(doc["results"]) <= 20


def test_search_without_match_says_so(capsys):
    args = parse("hpo", "search", "qqqxxzz")
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no HPO term matches 'qqqxxzz'" in err


@pytest.mark.parametrize("limit", ["0", "-3", "abc", "1001"])
def test_bad_limit_is_a_usage_error(limit, capsys):
    with pytest.raises(SystemExit) as exc:
        parse("hpo", "search", "eyes", "--limit", limit)
    assert exc.value.code == 2


def test_show_prints_synonyms_and_parents(capsys):
    args = parse("hpo", "show", "HP:0000316")
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "HP:0000316\tHypertelorism"
    assert "  synonym\tWide-set eyes" in out
    assert "  parent\tHP:0100886\tAbnormality of globe location" in out


def test_show_obsolete_id_notes_the_replacement(capsys):
    args = parse("hpo", "show", "HP:0000578", "--json")
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert (
        doc["id"] == "HP:0000316"
        and {"id": "HP:0100886", "name": "Abnormality of globe location"} in doc["parents"]
    )
    assert "HP:0000578 is an alternative id of HP:0000316" in err
    assert doc["notes"] == [err.strip()]


def test_show_unknown_id_is_refused_with_exit_2():
    args = parse("hpo", "show", "HP:9999999")
    with pytest.raises(UsageError, match="unknown HPO term ids: HP:9999999") as exc:
        args.func(args)
    assert exc.value.exit_code == 2


def test_empty_search_text_is_refused():
    args = parse("hpo", "search", "  ")
    with pytest.raises(UsageError, match="empty"):
        args.func(args)
