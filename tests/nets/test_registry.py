"""Every registered architecture builds without downloads, has a CAM layer, and shapes work."""

from __future__ import annotations

import pytest
import torch

from dysmorph_desk.nets import create_model, get_arch, list_archs

REQUIRED = {
    "mobilenetv2_bilstm",
    "mobilenetv2_bilstm_unshared",
    "mobilenetv2",
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet34",
    "resnet101",
    "densenet201",
}
LIGHT = ["mobilenetv2_bilstm", "mobilenetv2_bilstm_unshared", "mobilenetv2", "resnet18"]


def test_registry_has_every_engine_architecture():
    assert set(list_archs()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_builds_with_head_for_n_classes_and_target_layer(name):
    model = create_model(name, 3)
    spec = get_arch(name)
    layer = spec.target_layer(model)
    assert isinstance(layer, torch.nn.Module)
    assert spec.input_size == 224 and len(spec.mean) == 3 and len(spec.std) == 3
    # the classification head has 3 outputs
    last_linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert last_linear.out_features == 3


@pytest.mark.parametrize("name", LIGHT)
def test_forward_shape(name):
    model = create_model(name, 2).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(KeyError, match="mobilenetv2_bilstm"):
        get_arch("alexnet")


def test_hybrid_shares_lstm_weights_between_directions():
    shared = create_model("mobilenetv2_bilstm", 2)
    unshared = create_model("mobilenetv2_bilstm_unshared", 2)

    def lstm_params(m):
        return sum(p.numel() for n, p in m.named_parameters() if n.startswith("sequence"))

    # one weight set per layer instead of two: less than the unshared BiLSTM's parameters
    assert lstm_params(shared) < lstm_params(unshared)
    seq = shared.sequence
    assert len(seq.layers) == 2 and all(
        not layer.bidirectional and layer.hidden_size == 128 for layer in seq.layers
    )
    assert shared.dropout.p == pytest.approx(0.3)
    assert shared.classifier.in_features == 256


def test_shared_bilstm_runs_both_directions_with_the_same_weights():
    from dysmorph_desk.nets.hybrid import SharedBiLSTM

    torch.manual_seed(0)
    seq = SharedBiLSTM(4, 3, num_layers=1).eval()
    x = torch.randn(1, 5, 4)
    out = seq(x)
    fwd, _ = seq.layers[0](x)
    bwd, _ = seq.layers[0](x.flip(1))
    assert torch.allclose(out[..., :3], fwd) and torch.allclose(out[..., 3:], bwd.flip(1))


def test_hybrid_reads_the_7x7_map_as_49_steps():
    model = create_model("mobilenetv2_bilstm", 2).eval()
    seen = {}
    model.sequence.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(i[0].shape)))
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert seen["shape"] == (1, 49, 1280)
