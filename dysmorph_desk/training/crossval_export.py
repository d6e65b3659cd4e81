"""The exported bundle: the model trained on all photos, calibrated on out-of-fold predictions.

After cross-validation the bundle is trained on every photo for the median of the folds' best
epochs, with the temperature and the Youden threshold fitted on the pooled out-of-fold logits
(under the holdout protocol, the split's own model is exported instead). Its model card carries
the cross-validated metrics and the text in ``CardText``. A finished export is recorded in
``RUN/run.json`` so that running the same command again does not train it twice.

The card's flat metrics (accuracy, recall, ...) are per photo (``metrics_unit``); what screening
shows comes from ``counts``, counted per child on the pooled out-of-fold predictions (the rule:
``training/evaluation/per_child.py``), with exact 95 % intervals and per-child subgroup counts.
A model whose AUC's 95 % CI includes 0.5, or starts under ``--min-auc``, is exported with the
status ``failed-validation`` (and a warning): screening refuses it without ``--allow-unvalidated``.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk import __version__
from dysmorph_desk.errors import Interrupted
from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.crossval_summary import (
    FoldResult,
    p_syndromic,
    pooled_out_of_fold,
    tested_only,
)
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.loop import fit_temperature, train_model
from dysmorph_desk.training.metrics import youden_threshold
from dysmorph_desk.training.runtime import Runtime
from dysmorph_desk.training.variants import (
    DEFAULT_VARIANTS,
    stability_summary,
    training_reference,
)
from dysmorph_desk.utils.atomic import write_bytes_atomic, write_text_atomic

Say = Callable[[str], None]


@dataclass
class CardText:
    """What the exported bundle's card says about itself beyond the numbers."""

    name: str | None = None
    status: str = "research"
    training_summary: str = ""
    intended_use: str = ""
    class_names: dict[str, str] | None = None
    min_auc: float | None = None  # ``--min-auc``: the AUC's 95 % CI must start at or above it


def child_validation_of(fs: FaceSet, results: list[FoldResult]) -> dict[str, Any]:
    """Per-child counts, intervals and subgroups of the pooled out-of-fold (or holdout test)
    predictions, each photo at the threshold of the fold that tested it."""
    from dysmorph_desk.training import evaluation as ev

    oof = tested_only(pooled_out_of_fold(fs, results))
    thresholds = {r.index: r.threshold for r in results}
    samples = [fs.samples[i] for i in oof["index"]]
    return ev.child_validation(
        fs.is_positive[oof["index"]],
        oof["p"],
        np.array([thresholds[int(f)] for f in oof["fold"]], dtype=np.float64),
        [fs.groups[i] for i in oof["index"]],
        {
            "age_band": [ev.age_band(s.age_months) for s in samples],
            "sex": [s.sex for s in samples],
        },
    )


def _record_validation(
    metrics: dict,
    fs: FaceSet,
    results: list[FoldResult],
    text: CardText,
    cfg: TrainConfig,
    say: Say,
) -> tuple[dict[str, Any], Any]:
    """Per-child numbers and the gate into metrics.json; warns when the model fails the gate."""
    from dysmorph_desk.training import evaluation as ev

    child = child_validation_of(fs, results)
    gate = ev.validation_gate(metrics["auc_ci95"], text.min_auc)
    metrics["per_child"] = child
    metrics["at_prevalence_per_child"] = ev.at_prevalence(
        child["sensitivity"],
        child["specificity"],
        cfg.prevalence,
        sensitivity_ci95=child["sensitivity_ci95"],
        specificity_ci95=child["specificity_ci95"],
    )
    metrics["validation_gate"] = gate.to_dict()
    if not gate.passed:
        say(
            f"warning: {gate.reason}; the bundle is marked failed-validation, and screening "
            "refuses it unless --allow-unvalidated"
        )
    return child, gate


def _card_validation(metrics: dict, cfg: TrainConfig, child: dict, gate) -> dict[str, Any]:
    """The card's validation_metrics: per-photo summaries (unit named), per-child counts, CIs."""
    from dysmorph_desk.training.evaluation import rates_with_ci

    mean, std = metrics["mean"], metrics["std"]
    out: dict[str, Any] = {"protocol": metrics["protocol"], "n_folds": cfg.folds}
    out["metrics_unit"] = "photo"  # the flat metrics below; counts and intervals are per child
    out.update({k: round(float(v), 4) for k, v in mean.items() if np.isfinite(v)})
    out["auc_ci95"] = [
        round(float(v), 4) if v is not None and np.isfinite(v) else None
        for v in metrics["auc_ci95"]
    ]
    if cfg.folds > 1:
        out["sd"] = {k: round(float(v), 4) for k, v in std.items() if np.isfinite(v)}
    out["ece"] = round(float(metrics["calibration"]["ece_calibrated"]), 4)
    out["n_photos"], out["n_patients"] = metrics["n_photos"], metrics["n_patients"]
    counts = child["counts"]
    rounded = rates_with_ci(counts, digits=4)
    out["counts"] = counts
    out["sensitivity_ci95"] = rounded["sensitivity_ci95"]
    out["specificity_ci95"] = rounded["specificity_ci95"]
    out["counting"] = child["rule"]
    out["subgroups"] = child["subgroups"]
    out["min_children_per_subgroup"] = child["min_children_per_subgroup"]
    out["gate"] = {"passed": gate.passed, "reason": gate.reason, "min_auc": gate.min_auc}
    return out


def _save_weights(path: Path, model) -> None:
    from safetensors.torch import save

    write_bytes_atomic(
        path, save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    )


def _final_done(out: Path, name: str | None) -> dict | None:
    """The exported bundle of an earlier run of the same command, if it is still there, intact."""
    from dysmorph_desk.bundles.format import read_header
    from dysmorph_desk.errors import BundleError

    try:
        final = json.loads((out / "run.json").read_text(encoding="utf-8")).get("final")
        if not final or (name and Path(final["bundle"]).stem != name):
            return None
        return final if read_header(final["bundle"]).sha256 == final["sha256"] else None
    except (OSError, ValueError, KeyError, BundleError):
        return None


def _holdout_model(fs: FaceSet, cfg: TrainConfig, out: Path, result: FoldResult):
    """The single split's own model, with the temperature and threshold fitted on its validation part."""
    from safetensors.torch import load_file

    from dysmorph_desk.nets import create_model
    from dysmorph_desk.training.loop import Trained

    model = create_model(cfg.arch, len(fs.classes))
    model.load_state_dict(load_file(str(out / "folds" / "holdout-model.safetensors")))
    model.eval()
    return (
        Trained(model=model, best_epoch=result.best_epoch),
        result.best_epoch,
        result.temperature,
        result.threshold,
    )


def train_final(
    fs: FaceSet,
    cfg: TrainConfig,
    out: Path,
    rt: Runtime,
    metrics: dict,
    results: list[FoldResult],
    text: CardText,
    *,
    say: Say | None = None,
    show_bars: bool = True,
) -> Path:
    """Train on all photos, calibrate on the pooled out-of-fold logits, write the bundle."""
    from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
    from dysmorph_desk.bundles.format import read_header
    from dysmorph_desk.faces.align import template_description
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.bundle_io import save_bundle

    say = say or (lambda m: None)
    spec = get_arch(cfg.arch)
    child, gate = _record_validation(metrics, fs, results, text, cfg, say)
    # test-retest spread over the test photos (training/variants.py; {} for runs from before it)
    metrics["stability"] = stability_summary(results, out / "checkpoints", fs.positive_idx)
    done = _final_done(out, text.name)
    if done is not None:
        say(
            f"final model: done earlier ({Path(done['bundle']).name}; --restart retrains everything)"
        )
        metrics["final"] = done
        metrics["status"] = read_header(done["bundle"]).card.status
        return Path(done["bundle"])
    if cfg.protocol == "holdout":
        trained, epochs, temperature, threshold = _holdout_model(fs, cfg, out, results[0])
        say(
            f"exporting the model of the split (trained on its training part); temperature {temperature:.3f} "
            f"and threshold {threshold:.3f} from its validation part"
        )
    else:
        epochs = max(1, round(statistics.median(r.best_epoch for r in results)))
        oof = pooled_out_of_fold(fs, results)
        temperature = fit_temperature(oof["logits"], fs.y)
        threshold = youden_threshold(
            fs.is_positive, p_syndromic(oof["logits"], temperature, fs.positive_idx)
        )
        say(
            f"final model: all {len(fs.samples)} photos, {epochs} epochs (median best epoch of the folds); "
            f"temperature {temperature:.3f} and threshold {threshold:.3f} from the out-of-fold predictions"
        )
        try:
            trained = train_model(
                cfg,
                fs.faces,
                fs.y,
                np.arange(len(fs.samples)),
                np.array([], dtype=int),
                len(fs.classes),
                rt,
                label="final",
                checkpoint=out / "checkpoints" / "final.pt",
                fixed_epochs=epochs,
                say=say,
                show_bars=show_bars,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted while training the final model; run the same command again to resume "
                f"(the folds are kept in {out})"
            ) from None
    name = text.name or f"{cfg.arch}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    names = text.class_names or {}
    ages = [s.age_months for s in fs.samples if s.age_months is not None]
    card_metrics = _card_validation(metrics, cfg, child, gate)
    if metrics["stability"]:
        card_metrics["stability"] = metrics["stability"]
    status = text.status if gate.passed else "failed-validation"
    metrics["status"] = status
    card = ModelCard(
        name=name,
        architecture=cfg.arch,
        classes=[
            ClassInfo(c, names.get(c, c.replace("_", " ")), c in fs.positive) for c in fs.classes
        ],
        input_size=spec.input_size,
        mean=spec.mean,
        std=spec.std,
        alignment_template=template_description(),
        threshold=threshold,
        status=status,
        intended_use=text.intended_use
        or "Research use: screening aid for review by a clinician; not a diagnosis.",
        training_data={
            "summary": text.training_summary or fs.summary(),
            "n_photos": len(fs.samples),
            "n_patients": len(set(fs.groups)),
            "n_skipped": len(fs.skipped),
            "per_class_patients": fs.patients_per_class(),
        },
        validation_metrics=card_metrics,
        age_range_months=(min(ages), max(ages)) if ages else None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        temperature=temperature,
        description=spec.description,
        software_version=__version__,
        test_time_variants=list(DEFAULT_VARIANTS),  # the logits above are their mean
    )
    bundle_path = out / f"{name}.ddbundle"
    if rt.is_main:
        from dysmorph_desk.training.bundle_io import stored_copy

        reference = training_reference(  # on the weights as stored (float16), as screening runs
            stored_copy(trained.model, cfg.arch, len(fs.classes)).to(rt.device),
            cfg.arch,
            fs.faces,
            fs.groups,
            results,
            out / "checkpoints",
            rt,
            holdout=cfg.protocol == "holdout",
        )
        if reference is not None:
            metrics["atypicality"] = {
                k: reference.info[k] for k in ("n_fit", "n_reference", "shrinkage", "reference")
            }
            metrics["atypicality"]["p99_distance"] = float(reference.percentiles[99])
        info = save_bundle(bundle_path, trained.model, card, force=True, atypicality=reference)
        metrics["final"] = {
            "epochs": epochs,
            "temperature": temperature,
            "threshold": threshold,
            "runtime_train_s": trained.runtime_s,
            "bundle": str(bundle_path),
            "sha256": info.sha256,
        }
        marker = out / "run.json"
        state = json.loads(marker.read_text(encoding="utf-8"))
        write_text_atomic(marker, json.dumps({**state, "final": metrics["final"]}))
        (out / "checkpoints" / "final.pt").unlink(missing_ok=True)
    return bundle_path
