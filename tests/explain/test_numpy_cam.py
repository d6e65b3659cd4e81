"""The numpy heatmaps ONNX screening will draw: equal to pytorch-grad-cam's, method by method, and
honest when there is nothing to draw.

The comparisons take activations and gradients from torch hooks, as a gradient graph would give
them, and hold each of our maps to the library's within 1e-4 (both are normalised to [0, 1]). They
need torch and pytorch-grad-cam and skip without them; the rest runs on numpy alone.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dysmorph_desk.errors import Interrupted
from dysmorph_desk.explain import numpy_cam, weights
from dysmorph_desk.explain.methods import CAM_METHODS
from dysmorph_desk.explain.numpy_cam import CamMap, cam_from_gradients, score_cam

GRADIENT_METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]
MAP_METHODS = [*GRADIENT_METHODS, "eigencam"]  # every method cam_from_gradients draws
TOLERANCE = 1e-4


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _assert_drawable(cam: CamMap, shape: tuple[int, int]) -> None:
    assert cam.heat.shape == shape and cam.heat.dtype == np.float32
    assert np.isfinite(cam.heat).all() and cam.heat.min() >= 0 and cam.heat.max() <= 1


def _assert_empty(cam: CamMap, shape: tuple[int, int]) -> None:
    _assert_drawable(cam, shape)
    assert cam.empty and not cam.heat.any()


# --- without torch ---------------------------------------------------------------------------


def test_every_method_users_can_pick_has_a_function():
    assert set(weights.CAM_FUNCTIONS) == set(CAM_METHODS)
    assert weights.CHANNEL_WEIGHTS.issubset(CAM_METHODS)
    assert weights.GRADIENT_FREE.issubset(CAM_METHODS)


def test_docstring_examples_hold():
    for module in (weights, numpy_cam):
        failed, tried = doctest.testmod(module)
        assert tried and not failed, module.__name__


def test_importing_it_does_not_import_torch():
    code = "import sys, dysmorph_desk.explain.numpy_cam; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method", MAP_METHODS)
def test_a_map_is_float32_in_0_1_at_the_asked_size(method):
    acts = np.abs(_rand(8, 7, 7))
    cam = cam_from_gradients(method, acts, np.abs(_rand(8, 7, 7, seed=1)), 224)
    _assert_drawable(cam, (224, 224))
    assert not cam.empty and cam.heat.max() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_all_zero_gradients_give_an_empty_map(method):
    acts = np.abs(_rand(8, 7, 7))
    _assert_empty(cam_from_gradients(method, acts, np.zeros_like(acts), 64), (64, 64))


def test_all_zero_activations_give_an_empty_map():
    acts = np.zeros((8, 7, 7), np.float32)
    _assert_empty(cam_from_gradients("eigencam", acts, None, 64), (64, 64))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", MAP_METHODS)
def test_non_finite_activations_give_an_empty_map_never_nan(method, bad):
    acts = np.abs(_rand(8, 7, 7))
    acts[3, 2, 2] = bad
    _assert_empty(cam_from_gradients(method, acts, _rand(8, 7, 7, seed=1), 64), (64, 64))


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_non_finite_gradients_give_an_empty_map(method):
    grads = _rand(8, 7, 7, seed=1)
    grads[0, 0, 0] = np.nan
    _assert_empty(cam_from_gradients(method, np.abs(_rand(8, 7, 7)), grads, 64), (64, 64))


def test_eigencam_ignores_nan_gradients_it_does_not_use():
    grads = np.full((8, 7, 7), np.nan, np.float32)
    assert not cam_from_gradients("eigencam", _rand(8, 7, 7), grads, 64).empty


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_overflow_inside_a_method_is_empty_and_silent(method):
    acts = np.abs(_rand(8, 7, 7)) * 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cam = cam_from_gradients(method, acts, _rand(8, 7, 7, seed=1) * 1e30, 32)
    _assert_drawable(cam, (32, 32))


@pytest.mark.parametrize("method", MAP_METHODS)
def test_49_steps_are_the_7x7_grid_they_came_from(method):
    acts, grads = _rand(16, 7, 7), _rand(16, 7, 7, seed=1)
    grid = cam_from_gradients(method, acts, grads, 224)
    sequence = cam_from_gradients(method, acts.reshape(16, 49), grads.reshape(16, 49), 224)
    assert not grid.empty
    np.testing.assert_array_equal(sequence.heat, grid.heat)


def test_a_non_square_sequence_is_a_band_in_time_order():
    acts = np.zeros((2, 10), np.float32)
    acts[0, 2] = acts[1, 8] = 1.0
    grads = np.zeros_like(acts)
    grads[0] = 1.0  # only channel 0 (step 2) counts
    cam = cam_from_gradients("gradcam", acts, grads, 100)
    assert not cam.empty
    # every row the same (to cv2's rounding): a horizontal band
    np.testing.assert_allclose(cam.heat, np.broadcast_to(cam.heat[:1], cam.heat.shape), atol=1e-6)
    peak = int(np.argmax(cam.heat[0]))
    assert 20 <= peak < 30  # step 2 of 10, left to right


def test_arrays_that_do_not_fit_are_refused():
    acts = _rand(8, 7, 7)
    with pytest.raises(ValueError, match="unknown CAM method"):
        cam_from_gradients("gradcam+++", acts, acts, 64)
    with pytest.raises(ValueError, match="score_cam"):
        cam_from_gradients("scorecam", acts, acts, 64)
    with pytest.raises(ValueError, match="needs the gradients"):
        cam_from_gradients("gradcam", acts, None, 64)
    with pytest.raises(ValueError, match="do not match"):
        cam_from_gradients("gradcam", acts, acts[:4], 64)
    with pytest.raises(ValueError, match="channel axis first"):
        cam_from_gradients("gradcam", acts[None], acts[None], 64)  # a batch axis left on
    with pytest.raises(ValueError, match="positive"):
        cam_from_gradients("gradcam", acts, acts, 0)


def _quarter_forward(calls: list[int] | None = None):
    """Logits (N, 2) of a 'model' whose class 0 looks at the top-left quarter of an 8 x 8 image."""

    def forward(x: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(len(x))
        top_left = x[:, :, :4, :4].mean(axis=(1, 2, 3))
        return np.stack([top_left, x.mean(axis=(1, 2, 3)) - top_left], axis=1)

    return forward


def _quarter_acts(channels: int = 2) -> np.ndarray:
    acts = np.zeros((channels, 2, 2), np.float32)
    acts[0, 0, 0] = 1.0  # channel 0 covers the top left, the others the bottom right
    acts[1:, 1, 1] = 1.0
    return acts


def test_score_cam_finds_what_the_model_looks_at():
    image = np.ones((1, 3, 8, 8), np.float32)
    for target, (looked_at, ignored) in [(0, (0, 4)), (1, (4, 0))]:
        cam = score_cam(_quarter_forward(), image, _quarter_acts(), target)
        _assert_drawable(cam, (8, 8))
        heat = cam.heat
        box = slice(looked_at, looked_at + 4)
        other = slice(ignored, ignored + 4)
        assert heat[box, box].mean() > heat[other, other].mean()


def test_score_cam_reports_progress_after_each_batch():
    seen: list[tuple[int, int]] = []
    calls: list[int] = []
    score_cam(
        _quarter_forward(calls),
        np.ones((1, 3, 8, 8), np.float32),
        _quarter_acts(70),
        0,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(32, 70), (64, 70), (70, 70)]
    assert calls == [32, 32, 6]


def test_score_cam_can_be_cancelled_before_any_batch_or_between_batches():
    calls: list[int] = []
    image, acts = np.ones((1, 3, 8, 8), np.float32), _quarter_acts(70)
    with pytest.raises(Interrupted, match="Score-CAM cancelled"):
        score_cam(_quarter_forward(calls), image, acts, 0, should_cancel=lambda: True)
    assert calls == []
    with pytest.raises(Interrupted):
        score_cam(_quarter_forward(calls), image, acts, 0, should_cancel=lambda: len(calls) == 2)
    assert calls == [32, 32]


def test_score_cam_with_non_finite_activations_is_empty_without_forward_passes():
    calls: list[int] = []
    acts = _quarter_acts()
    acts[1, 0, 1] = np.nan
    cam = score_cam(_quarter_forward(calls), np.ones((1, 3, 8, 8), np.float32), acts, 0)
    _assert_empty(cam, (8, 8))
    assert calls == []


def test_score_cam_with_nan_logits_is_empty():
    cam = score_cam(
        lambda x: np.full((len(x), 2), np.nan, np.float32),
        np.ones((1, 3, 8, 8), np.float32),
        _quarter_acts(),
        0,
    )
    _assert_empty(cam, (8, 8))


def test_score_cam_49_steps_are_the_7x7_grid():
    image = _rand(1, 3, 16, 16, seed=2)
    acts = np.abs(_rand(4, 7, 7))

    def forward(x: np.ndarray) -> np.ndarray:
        return np.stack([x[:, 0, :8].mean(axis=(1, 2)), x[:, 1].mean(axis=(1, 2))], axis=1)

    grid = score_cam(forward, image, acts, 0)
    np.testing.assert_array_equal(score_cam(forward, image, acts.reshape(4, 49), 0).heat, grid.heat)


def test_score_cam_refuses_what_does_not_fit():
    forward, acts = _quarter_forward(), _quarter_acts()
    image = np.ones((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="one image"):
        score_cam(forward, image[0], acts, 0)
    with pytest.raises(ValueError, match="outside 2 classes"):
        score_cam(forward, image, acts, 2)
    with pytest.raises(ValueError, match="logits"):
        score_cam(lambda x: np.zeros(len(x)), image, acts, 0)


# --- against pytorch-grad-cam ----------------------------------------------------------------


@pytest.fixture(scope="module", params=["small_cnn", "mobilenet_v2"])
def net(request, tmp_path_factory):
    """(name, model, target layer, input, target class): a small CNN whose target layer is a conv
    before its ReLU (signed activations), and torchvision's MobileNetV2 (random weights, 64 px)."""
    torch = pytest.importorskip("torch")
    with pytest.MonkeyPatch.context() as mp:
        # pytorch-grad-cam imports matplotlib, which writes a font cache: not in the user's folders
        if "MPLCONFIGDIR" not in os.environ:
            mp.setenv("MPLCONFIGDIR", str(tmp_path_factory.mktemp("matplotlib")))
        pytest.importorskip("pytorch_grad_cam")
    nn = torch.nn
    torch.manual_seed(0)
    if request.param == "small_cnn":
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, 3),
        )
        layer, size = model[4], 32
    else:
        from torchvision.models import mobilenet_v2

        model = mobilenet_v2(weights=None, num_classes=2)
        layer, size = model.features[-1], 64
        # At its random initialisation the features fade to ~1e-9 (batch-norm statistics of 0 and
        # 1 do not fit them), below pytorch-grad-cam's 1e-7 epsilon: both maps would then compare
        # rounding noise. Statistics from a few random images give activations of order 1.
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # a plain average over the calibration batch
        model.train()
        with torch.no_grad():
            model(torch.randn(32, 3, size, size))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    # One thread: on a small machine shared with other work, oversubscribed threads make the 2 x
    # 1280 Score-CAM passes of MobileNetV2 ~7x slower (50 s instead of 6), and change no result.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield request.param, model, layer, torch.randn(1, 3, size, size), 1
    torch.set_num_threads(threads)


def _acts_and_grads(model, layer, x, target: int) -> tuple[np.ndarray, np.ndarray]:
    """The target layer's output and the class score's gradient w.r.t. it, for one image."""
    import torch

    store: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        store["acts"] = output
        output.register_hook(lambda grad: store.__setitem__("grads", grad))

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            model(x.clone().requires_grad_(True))[0, target].backward()
    finally:
        handle.remove()
    return store["acts"][0].detach().numpy().copy(), store["grads"][0].numpy().copy()


SCORE_CAM_BATCH = 64  # per forward call; the results do not depend on it


def _library_cam(method: str, model, layer, x, target: int) -> np.ndarray:
    import pytorch_grad_cam as pgc
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    classes = {
        "gradcam": pgc.GradCAM,
        "gradcam++": pgc.GradCAMPlusPlus,
        "xgradcam": pgc.XGradCAM,
        "hirescam": pgc.HiResCAM,
        "layercam": pgc.LayerCAM,
        "eigencam": pgc.EigenCAM,
        "scorecam": pgc.ScoreCAM,
    }
    cam = classes[method](model=model, target_layers=[layer])
    cam.batch_size = SCORE_CAM_BATCH  # ScoreCAM reads it when set (16 otherwise); others ignore it
    try:
        x = x.clone().requires_grad_(True)  # frozen weights: gradients flow through the input
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
    finally:
        cam.activations_and_grads.release()


def _assert_same_map(ours: CamMap, theirs: np.ndarray, label: str) -> None:
    assert theirs.dtype == np.float32 and theirs.max() > 0.5, f"{label}: a trivial reference"
    assert not ours.empty and ours.heat.shape == theirs.shape
    diff = float(np.abs(ours.heat - theirs).max())
    print(f"{label}: max |ours - pytorch-grad-cam| = {diff:.2e}")
    assert diff <= TOLERANCE, label


@pytest.mark.parametrize("method", MAP_METHODS)
def test_same_map_as_pytorch_grad_cam(net, method):
    name, model, layer, x, target = net
    acts, grads = _acts_and_grads(model, layer, x, target)
    theirs = _library_cam(method, model, layer, x, target)
    ours = cam_from_gradients(method, acts, None if method == "eigencam" else grads, x.shape[-1])
    _assert_same_map(ours, theirs, f"{name} {method}")


def test_same_score_cam_as_pytorch_grad_cam(net):
    import torch

    name, model, layer, x, target = net
    acts, _ = _acts_and_grads(model, layer, x, target)
    theirs = _library_cam("scorecam", model, layer, x, target)

    def forward(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(images)).numpy()

    ours = score_cam(forward, x.numpy(), acts, target, batch_size=SCORE_CAM_BATCH)
    _assert_same_map(ours, theirs, f"{name} scorecam")


def test_same_grad_cam_as_the_torch_implementation(net):
    from dysmorph_desk.training.torch_cam import grad_cam

    name, model, layer, x, target = net
    acts, grads = _acts_and_grads(model, layer, x, target)
    theirs, _, _ = grad_cam(model, layer, x, target)
    ours = cam_from_gradients("gradcam", acts, grads, x.shape[-1])
    assert not ours.empty
    diff = float(np.abs(ours.heat - theirs).max())
    print(f"{name} gradcam: max |ours - explain.cam.grad_cam| = {diff:.2e}")
    assert diff <= TOLERANCE


@pytest.mark.parametrize("shape_in", [(7, 7), (2, 2), (1, 10), (3, 5)])
@pytest.mark.parametrize("shape_out", [(224, 224), (8, 8), (1, 1), (5, 3)])
def test_score_cam_upsampling_is_torchs_align_corners_bilinear(shape_in, shape_out):
    torch = pytest.importorskip("torch")
    acts = _rand(4, *shape_in)
    rows = numpy_cam._align_corners_weights(shape_in[0], shape_out[0])
    cols = numpy_cam._align_corners_weights(shape_in[1], shape_out[1])
    ref = torch.nn.UpsamplingBilinear2d(size=shape_out)(torch.from_numpy(acts)[None])[0].numpy()
    np.testing.assert_allclose(rows @ acts @ cols.T, ref, atol=1e-5)
