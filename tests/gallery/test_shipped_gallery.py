"""The shipped demonstration gallery: found by name, intact, signed by the demo key, built with
exactly a shipped bundle (the one each set names), calibrated, embeddings only, and usable by
`screen --gallery demo-syndromes` with that bundle."""

from __future__ import annotations

import json

from dysmorph_desk.bundles.format import find_bundles
from dysmorph_desk.gallery.links import resolve_gallery, shipped_galleries
from dysmorph_desk.gallery.store import read_gallery
from tests.cli_helpers import run


def test_the_demo_gallery_is_shipped_signed_and_calibrated():
    assert "demo-syndromes" in shipped_galleries()
    g = read_gallery(resolve_gallery("demo-syndromes"))
    assert g.status == "demonstration"
    assert g.trust.verified and g.trust.key_name == "dysmorph-desk-demo"
    shipped = {b.sha256: b.name for b in find_bundles() if b.source == "shipped"}
    (sha, s), *_ = g.sets.items()
    assert shipped.get(sha) == s.bundle_name  # built with exactly the shipped bundle it names
    assert len(s) == len(g.entries) and s.threshold is not None and s.threshold.n >= 20
    assert len(g.disorders()) == 60
    assert all(e.photo is None and e.case_uid is None for e in g.entries.values())


def test_screen_ranks_against_it_by_name(capsys, tmp_path, portraits):
    out = tmp_path / "r.json"
    (s, *_) = read_gallery(resolve_gallery("demo-syndromes")).sets.values()
    code, stdout, err = run(
        capsys, "screen", portraits["grace_hopper"], "--model", s.bundle_name, "--cam", "none",
        "--no-report", "--gallery", "demo-syndromes", "--hpo", "HP:0000316", "--json", out,
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out.read_text())
    ctx = doc["differential_context"]
    assert ctx["gallery"]["status"] == "demonstration" and ctx["gallery"]["disorders"] == 60
    assert "false_match_rate" in ctx["gallery"]
    assert len(doc["differential"]) == 10
    assert "demonstration gallery" in stdout
