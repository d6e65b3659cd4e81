"""The test-time variants in PyTorch (training) against numpy (screening), and what training records."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dysmorph_desk.screening.stability import DEFAULT_VARIANTS, variant_images  # noqa: E402
from dysmorph_desk.training.loop import make_runtime, predict_logits, to_batch  # noqa: E402
from dysmorph_desk.training.variants import (  # noqa: E402
    photo_spreads,
    predict_outputs,
    spread_summary,
    torch_variants,
)


def _aligned_portrait(portraits) -> np.ndarray:
    from dysmorph_desk.faces.align import align_face
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.faces.image import load_image

    image = load_image(portraits["grace_hopper"])
    face = FaceDetector().detect(image.rgb)[0]
    return align_face(image.rgb, face.landmarks, 224).image


def test_numpy_and_torch_variants_agree_within_one_grey_level(portraits):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for face in (_aligned_portrait(portraits), noise):
        ours = variant_images(face, DEFAULT_VARIANTS)  # (V, S, S, 3) on 0..255
        theirs = torch_variants(to_batch(face[None], "cpu"), DEFAULT_VARIANTS)  # (V, 1, 3, S, S)
        theirs = theirs[:, 0].permute(0, 2, 3, 1).numpy() * 255.0
        assert theirs.shape == ours.shape
        diff = np.abs(theirs - ours).max(axis=(1, 2, 3))
        assert np.all(diff <= 1.0), dict(zip(DEFAULT_VARIANTS, diff.tolist(), strict=True))
        assert diff.max() < 1e-3  # in fact the same arithmetic, up to float rounding


def test_predict_outputs_batches_the_variants_and_captures_the_graphs_embedding():
    from dysmorph_desk.nets import create_model, get_arch
    from dysmorph_desk.training.onnx_export import run_reference

    torch.manual_seed(0)
    model = create_model("mobilenetv2", 2).eval()
    spec = get_arch("mobilenetv2")
    faces = np.random.default_rng(1).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    rt = make_runtime("cpu", "fp32")
    out = predict_outputs(
        model, faces, spec.mean, spec.std, rt, DEFAULT_VARIANTS, head=spec.head_layer(model)
    )
    assert out["logits"].shape == (len(DEFAULT_VARIANTS), 3, 2)
    from dysmorph_desk.training.loop import normalise

    x = normalise(to_batch(faces, "cpu"), spec.mean, spec.std).numpy()
    ref = run_reference(model, "mobilenetv2", x)
    assert np.allclose(out["embedding"], ref["embedding"], atol=1e-5)
    assert np.allclose(out["logits"][0], ref["logits"], atol=1e-4)
    mean = predict_logits(model, faces, spec.mean, spec.std, rt)
    assert np.allclose(mean, out["logits"].mean(axis=0), atol=1e-5)
    plain = predict_logits(model, faces, spec.mean, spec.std, rt, variants=("original",))
    assert np.allclose(plain, ref["logits"], atol=1e-4)


def test_spreads_and_their_summary():
    # two photos, two classes (index 1 syndromic), four variants
    logits = np.zeros((4, 2, 2))
    logits[:, 0, 1] = [0.0, 0.0, 0.0, 0.0]  # always 0.5
    logits[:, 1, 1] = [-1.0, 1.0, 0.0, 0.0]  # 0.27 .. 0.73
    spread, crossing = photo_spreads(logits, 1.0, [1], 0.6)
    assert spread[0] == pytest.approx(0.0) and spread[1] == pytest.approx(0.4621, abs=1e-4)
    assert crossing.tolist() == [False, True]
    summary = spread_summary(spread, crossing)
    assert summary["n_photos"] == 2 and summary["share_crossing_threshold"] == 0.5
    assert summary["spread_median"] == pytest.approx(0.2311, abs=1e-4)
    assert summary["spread_p90"] == pytest.approx(0.4159, abs=1e-4)


@pytest.mark.slow
def test_training_records_stability_and_atypicality_in_metrics_card_and_bundle(
    tiny_synth, tmp_path, capsys
):
    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.cli import main
    from dysmorph_desk.screening.atypicality import Reference

    run = tmp_path / "holdout"
    argv = ["train", "--data", str(tiny_synth), "--arch", "mobilenetv2", "--protocol", "holdout"]
    argv += ["--epochs", "1", "--out", str(run), "--name", "split", "--synthetic"]
    code = main([*argv, "--bootstrap", "200"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((run / "metrics.json").read_text())
    st = m["stability"]
    assert st["variants"] == list(DEFAULT_VARIANTS) and st["n_photos"] == m["n_tested_photos"]
    assert 0 <= st["spread_median"] <= st["spread_p90"] <= 1
    assert m["atypicality"]["reference"].startswith("out-of-fold")
    assert (run / "checkpoints" / "fold-1.heldout.npz").is_file()
    bundle = load_bundle(run / "split.ddbundle", allow_failed=True)
    card = bundle.card
    assert card.test_time_variants == list(DEFAULT_VARIANTS)
    assert card.validation_metrics["stability"] == st
    reference = Reference.of(bundle)
    assert reference is not None and reference.info["source"] == "training"
    held = np.load(run / "checkpoints" / "fold-1.heldout.npz")
    assert reference.info["n_reference"] == len(held["held_idx"])
    assert reference.info["n_fit"] + len(held["held_idx"]) == m["n_photos"]

    ev = tmp_path / "eval"
    bundle_path = str(run / "split.ddbundle")
    argv = ["evaluate", "--model", bundle_path, "--data", str(tiny_synth), "--out", str(ev)]
    code = main([*argv, "--bootstrap", "200"])
    assert code == 0, capsys.readouterr().err
    e = json.loads((ev / "evaluation.json").read_text())
    assert e["stability"]["card_metrics_with_variants"] is True
    assert e["stability"]["n_photos"] == e["n_photos"]
    assert 0 <= e["atypicality"]["share_atypical"] <= 1
    assert "Test-retest spread" in (ev / "evaluation.md").read_text()
