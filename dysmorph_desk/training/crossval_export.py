"""The exported bundle: the model trained on all photos, calibrated on out-of-fold predictions.

After cross-validation the bundle is trained on every photo for the median of the folds' best
epochs, with the temperature and the Youden threshold fitted on the pooled out-of-fold logits
(under the holdout protocol, the split's own model is exported instead). Its model card carries
the cross-validated metrics and the text in ``CardText``. A finished export is recorded in
``RUN/run.json`` so that running the same command again does not train it twice.
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
from dysmorph_desk.training.crossval_summary import FoldResult, p_syndromic, pooled_out_of_fold
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.loop import fit_temperature, train_model
from dysmorph_desk.training.metrics import youden_threshold
from dysmorph_desk.training.runtime import Runtime
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
    from dysmorph_desk.faces.align import template_description
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.bundle_io import save_bundle

    say = say or (lambda m: None)
    spec = get_arch(cfg.arch)
    done = _final_done(out, text.name)
    if done is not None:
        say(
            f"final model: done earlier ({Path(done['bundle']).name}; --restart retrains everything)"
        )
        metrics["final"] = done
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
    mean, std = metrics["mean"], metrics["std"]
    card_metrics: dict[str, Any] = {"protocol": metrics["protocol"], "n_folds": cfg.folds}
    card_metrics.update({k: round(float(v), 4) for k, v in mean.items() if np.isfinite(v)})
    card_metrics["auc_ci95"] = [round(float(v), 4) for v in metrics["auc_ci95"]]
    if cfg.folds > 1:
        card_metrics["sd"] = {k: round(float(v), 4) for k, v in std.items() if np.isfinite(v)}
    card_metrics["ece"] = round(float(metrics["calibration"]["ece_calibrated"]), 4)
    card_metrics["n_photos"], card_metrics["n_patients"] = (
        metrics["n_photos"],
        metrics["n_patients"],
    )
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
        status=text.status,
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
    )
    bundle_path = out / f"{name}.ddbundle"
    if rt.is_main:
        info = save_bundle(bundle_path, trained.model, card, force=True)
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
