"""Training and evaluation harness: the seeds' protocols, metrics and bundle export.

``splits`` (patient-grouped folds), ``loop`` (one model's training, checkpoints), ``crossval``
(folds, pooled out-of-fold predictions, final model), ``run`` (train/compare outputs),
``evaluate`` (held-out sets and clinicians' calls), ``tables``, ``cli``. Torch is imported lazily.
"""

from dysmorph_desk.training.config import Augment, TrainConfig
from dysmorph_desk.training.loop import fit_temperature
from dysmorph_desk.training.splits import grouped_kfold, grouped_split, plan_folds

__all__ = [
    "Augment",
    "TrainConfig",
    "fit_temperature",
    "grouped_kfold",
    "grouped_split",
    "plan_folds",
]
