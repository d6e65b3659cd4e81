"""Freezing early blocks: no gradient, weights and BatchNorm statistics unchanged by training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dysmorph_desk.nets import create_model
from dysmorph_desk.nets.freeze import early_blocks, freeze_early


def test_blocks_follow_features_or_resnet_stages():
    assert len(early_blocks(create_model("mobilenetv2", 2))) == 19
    names = [type(b).__name__ for b in early_blocks(create_model("resnet18", 2))]
    assert (
        names[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
        and names.count("BasicBlock") == 8
    )
    with pytest.raises(ValueError, match="0-18"):
        freeze_early(create_model("mobilenetv2", 2), 19)


def test_training_with_frozen_blocks_leaves_them_untouched(tmp_path):
    from safetensors.torch import save_file

    from dysmorph_desk.training.config import Augment, TrainConfig
    from dysmorph_desk.training.loop import make_runtime, train_model

    torch.manual_seed(1)
    init = create_model("mobilenetv2", 2)
    init_path = tmp_path / "init.safetensors"
    save_file({k: v.contiguous() for k, v in init.state_dict().items()}, str(init_path))
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (8, 224, 224, 3), dtype=np.uint8)
    y = np.array([0, 1] * 4)
    cfg = TrainConfig(
        arch="mobilenetv2",
        epochs=1,
        batch_size=4,
        init=str(init_path),
        freeze_blocks=4,
        augment=Augment(rotation_deg=0, scale=0, crop=0, brightness=0, noise=0, hflip=False),
    )
    trained = train_model(
        cfg,
        faces,
        y,
        np.arange(8),
        np.array([], dtype=int),
        2,
        make_runtime("cpu", "fp32"),
        show_bars=False,
    )
    before, after = init.state_dict(), trained.model.state_dict()
    frozen = [
        k for k in before if k.split(".")[1] in {"0", "1", "2", "3"} and k.startswith("features.")
    ]
    moving = [k for k in before if k.startswith("features.10.") and k.endswith("weight")]
    assert frozen and moving
    for k in frozen:  # conv weights and BatchNorm running statistics alike
        assert torch.equal(before[k], after[k]), k
    assert any(not torch.equal(before[k], after[k]) for k in moving)


def test_cli_refuses_freezing_without_pretrained_weights(tmp_path, capsys):
    from dysmorph_desk.cli import main

    code = main(
        [
            "train",
            "--data",
            str(tmp_path),
            "--arch",
            "mobilenetv2",
            "--out",
            str(tmp_path / "r"),
            "--freeze-blocks",
            "3",
        ]
    )
    assert code == 2 and "--init" in capsys.readouterr().err
