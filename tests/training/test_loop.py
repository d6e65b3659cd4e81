"""The epoch loop: class balancing, DDP sharding, progress, and resuming after an interruption."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dysmorph_desk.training.config import Augment, TrainConfig
from dysmorph_desk.training.loop import class_weights, epoch_order, make_runtime, shard, train_model
from dysmorph_desk.training.progress import Bar


def test_class_weights_and_sampler_balance_a_rare_class():
    y = np.array([0] * 95 + [1] * 5)
    w = class_weights(y, 2)
    assert w[1] / w[0] == pytest.approx(19) and (w[y]).mean() == pytest.approx(1)
    order = epoch_order(np.arange(100), y, "sampler", np.random.default_rng(0), 2)
    assert (
        len(order) == 100 and 0.35 < y[order].mean() < 0.65
    )  # rare class drawn about half the time
    perm = epoch_order(np.arange(100), y, "weighted-loss", np.random.default_rng(0), 2)
    assert sorted(perm) == list(range(100))


def test_ddp_shards_are_disjoint_and_equal_sized():
    order = np.random.default_rng(0).permutation(103)
    parts = [shard(order, r, 2, 16) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 48
    assert not set(parts[0]) & set(parts[1])
    assert (shard(order, 0, 1, 16) == order).all()


def test_progress_bar_prints_rate_and_eta_lines_when_not_a_terminal():
    t = [0.0]
    stream = io.StringIO()
    bar = Bar("fold 1/5 epoch 1/10", 100, stream=stream, clock=lambda: t[0])
    for _ in range(10):
        t[0] += 1.0
        bar.update(10)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert "50/100 10.0 img/s ETA 5s" in lines[4] and lines[-1].endswith("ETA 0s")


def _tiny_faces(n=12, size=224, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    faces = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    faces[y == 1, 80:140, 60:160] = 250  # something to learn
    return faces, y


@pytest.mark.slow
def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path):
    import torch

    faces, y = _tiny_faces()
    cfg = TrainConfig(
        arch="mobilenetv2",
        epochs=2,
        batch_size=4,
        seed=3,
        patience=5,
        augment=Augment(rotation_deg=5, scale=0.05, crop=0.03),
    )
    rt = make_runtime("cpu", "fp32")
    train, val = np.arange(8), np.arange(8, 12)
    straight = train_model(
        cfg, faces, y, train, val, 2, rt, checkpoint=tmp_path / "a.pt", show_bars=False
    )

    def stop_after_first_epoch(message: str) -> None:
        if "epoch 1/2:" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(
            cfg,
            faces,
            y,
            train,
            val,
            2,
            rt,
            checkpoint=tmp_path / "b.pt",
            say=stop_after_first_epoch,
            show_bars=False,
        )
    messages = []
    resumed = train_model(
        cfg,
        faces,
        y,
        train,
        val,
        2,
        rt,
        checkpoint=tmp_path / "b.pt",
        say=messages.append,
        show_bars=False,
    )
    assert resumed.resumed_from == 1 and any("resuming after epoch 1" in m for m in messages)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[1]["train_loss"] == pytest.approx(
        straight.history[1]["train_loss"], rel=1e-5
    )
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


@pytest.mark.slow
def test_margin_models_train_with_their_margin_and_screen_with_scaled_cosines():
    import torch

    faces, y = _tiny_faces(n=4, size=112)
    cfg = TrainConfig(
        arch="iresnet100_cosface", epochs=1, batch_size=4, augment=Augment(hflip=False)
    )
    trained = train_model(
        cfg,
        faces,
        y,
        np.arange(4),
        np.array([], dtype=int),
        2,
        make_runtime("cpu", "fp32"),
        show_bars=False,
    )
    model = trained.model
    assert np.isfinite(trained.history[0]["train_loss"])
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        logits = model(x)
        target = torch.tensor([0, 1])
        margined = model.margin_logits(logits, target)
    assert logits.abs().max() <= 64 + 1e-4
    # CosFace: s*(cos - m) on the target class only, so the loss during training is harder than at inference
    assert torch.allclose(margined[0, 0], logits[0, 0] - 64 * 0.35, atol=1e-4)
    assert torch.equal(margined[0, 1], logits[0, 1])


def test_a_diverging_run_stops_with_a_model_error(monkeypatch):
    from dysmorph_desk.errors import ModelError
    from dysmorph_desk.training import loop

    real = loop.normalise
    monkeypatch.setattr(
        loop, "normalise", lambda x, m, s: real(x, m, s) * float("nan")
    )  # as a blown-up net would
    faces, y = _tiny_faces(n=8, size=64)
    cfg = TrainConfig(arch="bilstm", epochs=3, batch_size=4, augment=Augment(hflip=False))
    with pytest.raises(ModelError, match="not finite"):
        train_model(
            cfg,
            faces,
            y,
            np.arange(8),
            np.array([0, 1]),
            2,
            make_runtime("cpu", "fp32"),
            show_bars=False,
        )
