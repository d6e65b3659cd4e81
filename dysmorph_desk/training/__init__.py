"""Training and evaluation harness (the ``[train]`` extra: PyTorch): the seeds' protocols, metrics,
bundle export and the PyTorch reference runtime.

``splits`` (patient-grouped folds), ``loop`` (one model's training, checkpoints), ``crossval``
(folds, pooled out-of-fold predictions, final model), ``run`` (train/compare outputs),
``evaluate`` (held-out sets and clinicians' calls), ``bundle_io`` (format-2 bundles from PyTorch
models, ``--runtime torch``), ``onnx_export`` (the graphs), ``tables``, ``cli``. Importing the
package imports nothing heavy; torch is imported by the modules that need it, when they need it.
"""
