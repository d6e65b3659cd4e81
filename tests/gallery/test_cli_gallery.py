"""``dysmorph-desk gallery`` end to end on tiny synthetic portraits and the test bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dysmorph_desk.gallery.store import read_gallery
from tests.cli_helpers import run

pytestmark = pytest.mark.usefixtures("gallery_cli")


@pytest.fixture(scope="module")
def built(tmp_path_factory, omim_data, test_bundle) -> Path:
    """``gallery build`` of the OMIM-labelled synthetic photos (controls excluded), made once."""
    from dysmorph_desk import cli
    from tests.gallery.helpers import with_gallery_command

    root = tmp_path_factory.mktemp("built")
    out = root / "clinic.ddgallery"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DYSMORPH_DESK_HOME", str(root / "home"))
        mp.setattr(cli, "build_parser", with_gallery_command(cli.build_parser))
        argv = [
            "gallery",
            "build",
            "--model",
            test_bundle,
            "--data",
            omim_data,
            "--out",
            out,
            "--exclude",
            "control",
            "--title",
            "Synthetic test gallery",
        ]
        assert cli.main([str(a) for a in argv]) == 0
    return out


@pytest.fixture
def gallery(built, tmp_path) -> Path:
    copy = tmp_path / "g.ddgallery"
    shutil.copy(built, copy)
    return copy


def test_build_then_list_and_info(capsys, gallery):
    code, out, err = run(capsys, "gallery", "info", gallery, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["entries"] == 4 and info["disorders"] == 1 and info["patients"] == 2
    assert info["photos_kept"] == 0 and info["title"] == "Synthetic test gallery"
    assert info["models"][0]["bundle"] == "test-hybrid"
    code, out, _ = run(capsys, "gallery", "list", gallery, "--json")
    entries = json.loads(out)["entries"]
    assert {e["disorder_id"] for e in entries} == {"OMIM:163950"}
    assert {e["disorder_name"] for e in entries} == {"Noonan syndrome 1"}
    assert all(e["patient_id"].startswith("SYN-") and e["source"] == "data" for e in entries)
    code, out, _ = run(capsys, "gallery", "info", gallery)
    assert code == 0 and "not calibrated" in out and "unsigned" in out


def test_add_with_photo_and_remove(capsys, gallery, test_bundle, portraits):
    code, out, err = run(
        capsys,
        "gallery",
        "add",
        gallery,
        "--model",
        test_bundle,
        "--disorder",
        "LOCAL:family-3",
        "--name",
        "Family 3",
        "--patient",
        "P-77",
        "--age",
        "30",
        "--with-photos",
        portraits["grace_hopper"],
    )
    assert code == 0, err
    assert out.strip() == "added entries 5 (LOCAL:family-3)"
    g = read_gallery(gallery)
    assert g.entries[5].photo is not None and g.entries[5].local
    code, _, err = run(capsys, "gallery", "remove", gallery, "5", "99")
    assert code == 2 and "no entry 99" in err and 5 in read_gallery(gallery).entries
    code, out, _ = run(capsys, "gallery", "remove", gallery, "5")
    assert code == 0 and "4 left" in out and 5 not in read_gallery(gallery).entries


def test_refusals_have_one_line_and_their_status(
    capsys, gallery, test_bundle, portraits, omim_data, tmp_path
):
    photo = portraits["grace_hopper"]
    add = ("gallery", "add", gallery, "--model")
    code, _, err = run(
        capsys, *add, test_bundle, "--disorder", "omim:163950", "--patient", "P", photo
    )
    assert code == 2 and "not a disorder id" in err
    code, _, err = run(
        capsys, *add, "demo-resnet18", "--disorder", "ORPHA:648", "--patient", "P", photo
    )
    assert code == 4 and "not comparable" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, *add, test_bundle, "--disorder", "ORPHA:648", photo)
    assert code == 2 and "--patient" in err
    damaged = tmp_path / "damaged.ddgallery"
    damaged.write_bytes(gallery.read_bytes()[:-4096])
    code, _, err = run(capsys, "gallery", "info", damaged)
    assert code == 4 and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "gallery", "list", tmp_path / "none.ddgallery")
    assert code == 4 and "gallery not found" in err
    out = tmp_path / "new.ddgallery"
    code, _, err = run(
        capsys, "gallery", "build", "--model", test_bundle, "--data", omim_data, "--out", out
    )
    assert code == 3 and "--local-ids" in err and "--exclude" in err and not out.exists()
    code, _, err = run(
        capsys,
        "gallery",
        "build",
        "--model",
        test_bundle,
        "--data",
        omim_data,
        "--out",
        out,
        "--exclude",
        "control",
        "--exclude",
        "OMIM:163950",
    )
    assert code == 3 and not out.exists()
    code, _, err = run(
        capsys, "gallery", "build", "--model", test_bundle, "--data", omim_data, "--out", gallery
    )
    assert code == 2 and "exists" in err


def test_sign(capsys, gallery, tmp_path):
    code, _, _ = run(capsys, "keys", "new", "--out", tmp_path / "k.pem")
    assert code == 0
    code, out, _ = run(capsys, "gallery", "sign", gallery, "--key", tmp_path / "k.pem")
    assert code == 0 and "signed by untrusted key" in out
    code, _, _ = run(capsys, "keys", "trust", tmp_path / "k.pub", "--max-status", "research")
    assert code == 0
    code, out, _ = run(capsys, "gallery", "info", gallery, "--json")
    assert json.loads(out)["signature"]["verified"] is True


@pytest.mark.slow
def test_calibrate_then_rank_a_photo(capsys, gallery, test_bundle, unrelated_data, omim_data):
    code, out, err = run(
        capsys, "gallery", "calibrate", gallery, "--model", test_bundle, "--data", unrelated_data
    )
    assert code == 0, err
    assert "of 20 unrelated children matched" in out and "CI" in out
    g = read_gallery(gallery)
    t = next(iter(g.sets.values())).threshold
    assert t is not None and t.n == 20 and t.n_entries == 4

    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.gallery.ranking import rank_screening
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener

    bundle = load_bundle(test_bundle)
    photo = next((omim_data / "images" / "syndromic_like").glob("*.jpg"))
    result = Screener([bundle]).screen(photo, options=ScreenOptions(cam_method=None))
    ranking = rank_screening([result], g, bundle)
    assert ranking is not None and ranking.threshold_current
    assert ranking.disorders[0].disorder_id == "OMIM:163950"
    assert ranking.nearest_distance == pytest.approx(0.0, abs=1e-5)  # the photo is in the gallery
    assert ranking.no_close_match is False
    text = json.dumps(ranking.to_json())
    assert "SYN-" not in text  # never another child's patient id


def test_a_case_entry_goes_with_its_case(capsys, gallery, test_bundle, portraits, tmp_path):
    from dysmorph_desk.records.store import CaseStore
    from tests import fakes

    store_path = tmp_path / "store"
    data = portraits["grace_hopper"].read_bytes()
    case = fakes.case("P-0042")
    with CaseStore(store_path) as store:
        uid, _ = store.file_screening(case, [(data, fakes.result(data, case))], None)
    code, _, err = run(
        capsys,
        "gallery",
        "add",
        gallery,
        "--model",
        test_bundle,
        "--disorder",
        "ORPHA:648",
        "--name",
        "Noonan syndrome",
        "--case",
        uid[:8],
        "--store-path",
        store_path,
    )
    assert code == 0, err
    entry = read_gallery(gallery).entries[5]
    assert entry.source == "case" and entry.case_uid == uid and entry.patient_id == "P-0042"
    assert entry.photo is None  # photos only with --with-photos
    code, _, err = run(capsys, "cases", "delete", uid, "--yes", "--store-path", store_path)
    assert code == 0, err
    assert 5 not in read_gallery(gallery).entries and len(read_gallery(gallery).entries) == 4


def test_share_writes_a_copy_without_the_clinics_patient_ids(capsys, gallery, tmp_path):
    copy = tmp_path / "for-clinic-b.ddgallery"
    code, out, err = run(capsys, "gallery", "share", gallery, "--out", copy)
    assert code == 0, err
    assert "patient ids left out" in err
    code, out, _ = run(capsys, "gallery", "list", copy, "--json")
    entries = json.loads(out)["entries"]
    assert len(entries) == 4 and not any(e["patient_id"].startswith("SYN-") for e in entries)
    code, _, err = run(capsys, "gallery", "share", gallery, "--out", copy)
    assert code == 2 and "exists" in err


def test_share_of_a_shipped_gallery_by_name_never_overwrites_it(capsys):
    from dysmorph_desk.gallery.links import resolve_gallery

    shipped = resolve_gallery("demo-syndromes")
    before = shipped.read_bytes()
    code, _, err = run(capsys, "gallery", "share", "demo-syndromes", "--out", shipped, "--force")
    assert code == 2 and "another file" in err
    assert shipped.read_bytes() == before
