"""``train``, ``compare`` and ``evaluate`` end to end on tiny synthetic data (2 folds, 1 epoch)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from dysmorph_desk.cli import main
from dysmorph_desk.training.metrics import METRIC_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_synth):
    """One real 2-fold, 1-epoch run to a bundle (shared by the tests that read its outputs)."""
    import contextlib
    import io
    import os

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("DYSMORPH_DESK_HOME")
    os.environ["DYSMORPH_DESK_HOME"] = str(home)
    run = tmp_path_factory.mktemp("runs") / "run"
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(
                [
                    "train",
                    "--data",
                    str(tiny_synth),
                    "--arch",
                    "mobilenetv2",
                    "--folds",
                    "2",
                    "--epochs",
                    "1",
                    "--out",
                    str(run),
                    "--name",
                    "tiny",
                    "--synthetic",
                    "--bootstrap",
                    "200",
                    "--aug-rotation",
                    "4",
                    "--aug-scale",
                    "0.03",
                ]
            )
    finally:
        if old is None:
            os.environ.pop("DYSMORPH_DESK_HOME", None)
        else:
            os.environ["DYSMORPH_DESK_HOME"] = old
    return {
        "code": code,
        "run": run,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "home": home,
    }


def test_train_writes_metrics_table_plots_and_a_bundle(trained_run):
    from dysmorph_desk.bundles.format import load_bundle

    assert trained_run["code"] == 0, trained_run["stderr"]
    run = trained_run["run"]
    assert trained_run["stdout"].strip().splitlines()[-1] == str(run / "tiny.ddbundle")
    assert "fold 2/2" in trained_run["stderr"] and "img/s ETA" in trained_run["stderr"]
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["folds"]) == 2
    for key in ("mean", "std"):
        assert set(m[key]) == set(METRIC_KEYS)
    lo, hi = m["auc_ci95"]
    assert 0 <= lo <= hi <= 1
    assert (
        m["runtime_train_s"] > 0 and m["runtime_test_s_per_image"] > 0 and m["n_parameters"] > 1e6
    )
    for f in ("roc.png", "confusion.png", "training_curves.png", "reliability.png", "table.md"):
        assert (run / f).stat().st_size > 100, f
    assert (run / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (run / "table.md").read_text()
    assert "Mean ± SD" in table and "| 1 |" in table and "| 2 |" in table
    for k in METRIC_KEYS:  # SD is the sample SD over the folds
        vals = [f[k] for f in m["folds"]]
        assert m["mean"][k] == pytest.approx(np.mean(vals))
        assert m["std"][k] == pytest.approx(np.std(vals, ddof=1))
    bundle = load_bundle(run / "tiny.ddbundle", allow_failed=True)
    card = bundle.card
    # one epoch on 24 children may be no better than chance: the gate then marks the bundle
    gate = m["validation_gate"]
    assert card.status == ("demonstration" if gate["passed"] else "failed-validation")
    assert gate["passed"] or "failed-validation" in trained_run["stderr"]
    assert "synthetic" in card.training_data["summary"]
    vm = card.validation_metrics
    counts = vm["counts"]  # each child once, on the pooled out-of-fold predictions
    assert counts["unit"] == "child" and counts["n_children"] == m["n_patients"]
    assert counts["n_photos"] == m["n_tested_photos"] > counts["n_children"]
    assert counts == m["per_child"]["counts"] and vm["metrics_unit"] == "photo"
    assert 0 <= vm["specificity_ci95"][0] <= vm["specificity_ci95"][1] <= 1
    assert set(vm["subgroups"]) <= {"age_band", "sex"} and vm["min_children_per_subgroup"] == 10
    assert card.validation_metrics["auc"] == pytest.approx(m["mean"]["auc"], abs=1e-4)
    assert card.validation_metrics["auc_ci95"] == pytest.approx(m["auc_ci95"], abs=1e-4)
    assert card.validation_metrics["protocol"].startswith("2-fold patient-grouped")
    assert card.temperature == pytest.approx(m["final"]["temperature"])
    assert card.threshold == pytest.approx(m["final"]["threshold"])
    assert not (run / "checkpoints" / "final.pt").exists()


def test_every_fold_metric_matches_sklearn_on_the_saved_predictions(trained_run):
    run = trained_run["run"]
    m = json.loads((run / "metrics.json").read_text())
    pos = [m["classes"].index(c) for c in m["positive"]]
    for f in m["folds"]:
        k = f["fold"]
        arr = np.load(run / "folds" / f"fold-{k}.npz")
        z = arr["test_logits"].astype(np.float64) / f["temperature"]
        p = np.exp(z - z.max(1, keepdims=True))
        p = (p / p.sum(1, keepdims=True))[:, pos].sum(1)
        y = np.isin(arr["test_y"], pos).astype(int)
        pred = (p >= f["threshold"]).astype(int)
        tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
        fn, tn = int(((pred == 0) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
        assert (f["tp"], f["fp"], f["fn"], f["tn"]) == (tp, fp, fn, tn)
        assert f["accuracy"] == pytest.approx(accuracy_score(y, pred))
        assert f["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
        assert f["specificity"] == pytest.approx(tn / (tn + fp))
        assert f["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
        assert f["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
        assert f["mcc"] == pytest.approx(matthews_corrcoef(y, pred), abs=1e-9)
        assert f["kappa"] == pytest.approx(cohen_kappa_score(y, pred), abs=1e-9)
        assert f["auc"] == pytest.approx(roc_auc_score(y, p))


def test_no_child_is_in_both_train_and_test_of_any_fold(trained_run, tiny_synth):
    run = trained_run["run"]
    with (tiny_synth / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len({r["patient_id"] for r in rows}) < len(
        rows
    )  # several photos per child: grouping matters
    for k in (1, 2):
        arr = np.load(run / "folds" / f"fold-{k}.npz")
        test_patients, train_patients = set(arr["test_patients"]), set(arr["train_patients"])
        assert test_patients and train_patients and not (test_patients & train_patients)
        assert not (set(arr["val_patients"]) & test_patients)


def test_rerunning_the_same_command_resumes_instead_of_retraining(
    trained_run, tiny_synth, monkeypatch, capsys
):
    monkeypatch.setenv("DYSMORPH_DESK_HOME", str(trained_run["home"]))
    run = trained_run["run"]
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--folds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(run),
            "--name",
            "tiny",
            "--synthetic",
            "--bootstrap",
            "200",
            "--no-bundle",
            "--aug-rotation",
            "4",
            "--aug-scale",
            "0.03",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "fold 1/2: done earlier" in err and "fold 2/2: done earlier" in err
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--folds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(run),
            "--name",
            "tiny",
            "--synthetic",
            "--bootstrap",
            "200",
            "--aug-rotation",
            "4",
            "--aug-scale",
            "0.03",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and "final model: done earlier" in captured.err
    assert captured.out.strip().splitlines()[-1] == str(run / "tiny.ddbundle")
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--folds",
            "2",
            "--epochs",
            "2",
            "--out",
            str(run),
            "--synthetic",
        ]
    )
    assert code == 2 and "other settings" in capsys.readouterr().err


def test_settings_that_cannot_work_exit_2_before_any_face_is_aligned(tiny_synth, tmp_path, capsys):
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--protocol",
            "3:1:1",
            "--folds",
            "2",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2 and "at least 3 folds" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_too_few_children_per_class_exits_3_with_the_numbers(tiny_synth, tmp_path, capsys):
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--folds",
            "10",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "too few patients" in err and "control: 6" in err and "at least 10" in err


def test_evaluate_places_readers_on_the_model_roc(trained_run, tmp_path, capsys, monkeypatch):
    from dysmorph_desk.training.synthetic import make_synthetic

    monkeypatch.setenv("DYSMORPH_DESK_HOME", str(trained_run["home"]))
    test = tmp_path / "test"
    make_synthetic(test, per_class=8, seed=99, photos_per_identity=1)
    with (test / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    readers = tmp_path / "readers.csv"
    with readers.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "reader", "call"])
        for i, r in enumerate(rows):
            w.writerow([r["path"], "expert", r["label"]])  # always right
            w.writerow([r["path"], "cautious", "control"])  # never calls a syndrome
            w.writerow([r["path"], "coin", "control" if i % 2 else "syndromic_like"])
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--model",
            str(trained_run["run"] / "tiny.ddbundle"),
            "--data",
            str(test),
            "--readers",
            str(readers),
            "--out",
            str(out),
            "--bootstrap",
            "200",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip().splitlines()[-1] == str(out / "evaluation.json")
    r = json.loads((out / "evaluation.json").read_text())
    by = {x["reader"]: x for x in r["readers"]}
    assert by["expert"]["sensitivity"] == 1.0 and by["expert"]["specificity"] == 1.0
    assert by["cautious"]["sensitivity"] == 0.0 and by["cautious"]["specificity"] == 1.0
    assert by["expert"]["position"] in ("above", "inside")
    assert by["cautious"]["position"] in ("below", "inside")
    assert r["n_photos"] == by["expert"]["n"] == len(rows)
    child = r["per_child"]["counts"]  # one photo per child here: as many children as photos
    assert child["unit"] == "child" and child["n_children"] == child["n_photos"] == len(rows)
    assert "ppv_range" in r["at_prevalence_per_child"] and r["metrics_unit"] == "photo"
    assert "Counted per child" in (out / "evaluation.md").read_text()
    assert "Readers on the model's ROC" in (out / "evaluation.md").read_text()
    assert (out / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_runs_the_same_folds_for_each_architecture(tiny_synth, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "--data",
            str(tiny_synth),
            "--archs",
            "mobilenet,bilstm",
            "--folds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--bootstrap",
            "200",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip().splitlines()[-1] == str(out / "compare.md")
    table = (out / "compare.md").read_text()
    assert "| mobilenet |" in table and "| bilstm |" in table
    runs = json.loads((out / "compare.json").read_text())["runs"]
    assert [x["arch"] for x in runs] == ["mobilenet", "bilstm"]
    a = json.loads((out / "mobilenet" / "metrics.json").read_text())
    b = json.loads((out / "bilstm" / "metrics.json").read_text())
    assert a["fold_assignment_sha"] == b["fold_assignment_sha"]


def test_holdout_protocol_exports_the_split_model_calibrated_on_its_validation_part(
    tiny_synth, tmp_path, capsys
):
    run = tmp_path / "holdout"
    code = main(
        [
            "train",
            "--data",
            str(tiny_synth),
            "--arch",
            "mobilenetv2",
            "--protocol",
            "holdout",
            "--epochs",
            "1",
            "--out",
            str(run),
            "--name",
            "split",
            "--synthetic",
            "--bootstrap",
            "200",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["folds"]) == 1 and m["protocol"].startswith("one patient-grouped")
    from dysmorph_desk.bundles.format import load_bundle

    card = load_bundle(run / "split.ddbundle", allow_failed=True).card
    counts = card.validation_metrics["counts"]  # the test part's children
    assert counts["n_photos"] == m["n_tested_photos"] and counts["unit"] == "child"
    assert card.threshold == pytest.approx(m["folds"][0]["threshold"])
    assert card.temperature == pytest.approx(m["folds"][0]["temperature"])
    assert (
        "sd" not in card.validation_metrics and card.validation_metrics["protocol"] == m["protocol"]
    )


def test_a_trained_bundle_installs_and_is_listed(trained_run, capsys):
    bundle = str(trained_run["run"] / "tiny.ddbundle")
    m = json.loads((trained_run["run"] / "metrics.json").read_text())
    flag = []
    label = "demonstration model — not for clinical use"
    if not m["validation_gate"]["passed"]:  # refused without a word? no: with one line
        assert main(["models", "--install", bundle]) == 4
        assert "--allow-unvalidated" in capsys.readouterr().err
        flag, label = ["--allow-unvalidated"], "failed validation — not for clinical use"
    code = main(["models", "--install", bundle, *flag])
    installed = capsys.readouterr().out.strip()
    assert code == 0 and installed.endswith("tiny.ddbundle")
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert f"tiny\tmobilenetv2\t{label}" in listing and "user" in listing
    assert main(["models", "--install", bundle, *flag]) == 2  # exists: needs --force
