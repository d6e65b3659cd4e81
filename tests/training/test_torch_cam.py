"""Heatmaps that mean something: sanity checks (Adebayo et al. 2018) and the synthetic-mask test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dysmorph_desk.nets import create_model, get_arch
from dysmorph_desk.training.torch_cam import CAM_METHODS, compute_cam


@pytest.fixture(scope="module")
def model_and_input():
    torch.manual_seed(0)
    model = create_model("mobilenetv2_bilstm", 2).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)
    return model, get_arch("mobilenetv2_bilstm").target_layer(model), x


@pytest.mark.parametrize("method", [m for m in CAM_METHODS if m != "scorecam"])
def test_every_fast_method_gives_a_finite_map_and_the_logits(model_and_input, method):
    model, layer, x = model_and_input
    out = compute_cam(model, layer, x, method)
    assert out.heat.shape == (224, 224) and out.heat.dtype == np.float32
    assert np.isfinite(out.heat).all() and out.heat.min() >= 0 and out.heat.max() <= 1
    with torch.no_grad():
        ref = model(x)[0].numpy()
    assert np.allclose(out.logits, ref, atol=1e-4)
    assert out.target_index == int(np.argmax(ref))


def test_chosen_target_class(model_and_input):
    model, layer, x = model_and_input
    assert compute_cam(model, layer, x, "gradcam", target_index=1).target_index == 1


def test_scorecam_reports_progress_and_prints_no_bar(capsys):
    torch.manual_seed(0)
    model = create_model("resnet18", 2).eval()
    # a smaller target layer keeps Score-CAM's one-forward-per-channel loop quick in a test
    layer = model.layer1[-1]
    seen = []
    out = compute_cam(
        model,
        layer,
        torch.randn(1, 3, 64, 64),
        "scorecam",
        progress=lambda d, n: seen.append((d, n)),
    )
    assert np.isfinite(out.heat).all()
    assert seen and seen[-1][0] == seen[-1][1] == 64
    captured = capsys.readouterr()
    assert "it/s" not in captured.err and "%|" not in captured.err


def test_scorecam_can_be_cancelled():
    from dysmorph_desk.errors import Interrupted

    model = create_model("resnet18", 2).eval()
    with pytest.raises(Interrupted):
        compute_cam(
            model,
            model.layer1[-1],
            torch.randn(1, 3, 64, 64),
            "scorecam",
            should_cancel=lambda: True,
        )


def test_empty_map_is_flagged_not_drawn():
    class Dead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.relu = torch.nn.ReLU()
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.relu(self.conv(x) * 0 - 1).mean((2, 3)))  # activations all zero

    m = Dead().eval()
    out = compute_cam(m, m.relu, torch.randn(1, 3, 32, 32), "gradcam")
    assert out.empty and np.all(out.heat == 0)


def test_recurrent_layers_switch_to_train_mode_only_on_cuda(model_and_input):
    from dysmorph_desk.training.torch_cam import _recurrent_train_mode

    model, _, _ = model_and_input
    lstms = [m for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    with _recurrent_train_mode(model, "cuda"):
        assert all(m.training for m in lstms)
        assert not model.dropout.training and not model.features.training
    assert not any(m.training for m in lstms)
    with _recurrent_train_mode(model, "cpu"):
        assert not any(m.training for m in lstms)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")
def test_gradcam_on_cuda_with_lstm(model_and_input):
    model, _, x = model_and_input
    model = model.cuda()
    out = compute_cam(
        model, get_arch("mobilenetv2_bilstm").target_layer(model), x.cuda(), "gradcam"
    )
    assert np.isfinite(out.heat).all()
    model.cpu()


def _reference_gradcam(model, layer, x, target_index=None):
    """pytorch-grad-cam's own GradCAM, the reference our implementation must match."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(model=model, target_layers=[layer])
    try:
        targets = None if target_index is None else [ClassifierOutputTarget(target_index)]
        heat = cam(input_tensor=x.detach().clone().requires_grad_(True), targets=targets)[0]
        logits = cam.outputs[0].detach().numpy()
    finally:
        cam.activations_and_grads.release()
    return heat, logits


class _Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 6, 3, stride=2, padding=1),
            torch.nn.ReLU(),
        )
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)).mean((2, 3)))


@pytest.mark.parametrize("target_index", [None, 0, 2])
def test_own_gradcam_matches_pytorch_grad_cam_on_a_small_model(target_index):
    torch.manual_seed(2)
    model = _Small().eval()
    x = torch.randn(1, 3, 40, 48)
    ours = compute_cam(model, model.body[-1], x, "gradcam", target_index)
    assert not any(p.grad is not None for p in model.parameters())  # no parameter gradients
    heat, logits = _reference_gradcam(model, model.body[-1], x, target_index)
    assert ours.heat.shape == heat.shape == (40, 48)
    assert heat.max() > 0.5 and not ours.empty
    assert np.abs(ours.heat - heat).max() < 1e-4
    assert np.allclose(ours.logits, logits, atol=1e-5)


@pytest.fixture(scope="module")
def hybrid_seed1():
    torch.manual_seed(1)  # with these random weights both classes give a non-empty map
    model = create_model("mobilenetv2_bilstm", 2).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, get_arch("mobilenetv2_bilstm").target_layer(model), torch.randn(1, 3, 224, 224)


@pytest.mark.parametrize("target_index", [None, 0, 1])
def test_own_gradcam_matches_pytorch_grad_cam_on_the_hybrid(hybrid_seed1, target_index):
    model, layer, x = hybrid_seed1
    ours = compute_cam(model, layer, x, "gradcam", target_index)
    heat, logits = _reference_gradcam(model, layer, x, target_index)
    assert heat.max() > 0.5 and not ours.empty  # a real map, not a trivially equal empty one
    assert np.abs(ours.heat - heat).max() < 1e-4
    assert np.allclose(ours.logits, logits, atol=1e-4)
    assert ours.target_index == (int(np.argmax(logits)) if target_index is None else target_index)


def test_own_gradcam_allows_in_place_operations_after_the_target_layer():
    class InPlace(_Small):  # like DenseNet: F.relu(features, inplace=True) after the target layer
        def forward(self, x):
            return self.fc(
                torch.nn.functional.relu(
                    self.body[2](self.body[1](self.body[0](x))), inplace=True
                ).mean((2, 3))
            )

    torch.manual_seed(2)
    model = InPlace().eval()
    x = torch.randn(1, 3, 32, 32)
    out = compute_cam(model, model.body[2], x, "gradcam")
    assert np.isfinite(out.heat).all() and out.heat.shape == (32, 32) and not out.empty
    heat, _ = _reference_gradcam(
        model, model.body[2], x
    )  # on a CPU it reads the activations after the ReLU
    assert np.abs(out.heat - heat).max() < 1e-4


def test_own_gradcam_agrees_with_pytorch_grad_cam_on_an_empty_map(model_and_input):
    model, layer, x = model_and_input  # seed 0: class 0's map is all zero for these weights
    ours = compute_cam(model, layer, x, "gradcam", 0)
    heat, _ = _reference_gradcam(model, layer, x, 0)
    assert ours.empty and np.all(ours.heat == 0) and np.all(heat == 0)


def test_gradcam_does_not_import_pytorch_grad_cam():
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from dysmorph_desk.training.torch_cam import compute_cam\n"
        "from dysmorph_desk.nets import create_model, get_arch\n"
        "m = create_model('mobilenetv2', 2).eval()\n"
        "compute_cam(m, get_arch('mobilenetv2').target_layer(m), torch.randn(1, 3, 64, 64))\n"
        "bad = [n for n in ('pytorch_grad_cam', 'sklearn', 'matplotlib') if n in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
