"""The registered architectures. Each entry: constructor with weights=None, Grad-CAM layer, size."""

from __future__ import annotations

from dysmorph_desk.nets.registry import register


def _tv(name: str):
    import torchvision.models as tvm

    return getattr(tvm, name)(weights=None)


def _replace_linear(module, attr: str, num_classes: int) -> None:
    from torch import nn

    old = getattr(module, attr)
    setattr(module, attr, nn.Linear(old.in_features, num_classes))


@register(
    "mobilenetv2_bilstm",
    target_layer=lambda m: m.features[-1],
    description="MobileNetV2 + optimized (weight-shared) 2-layer BiLSTM(128), dropout 0.3",
    source="seed 000, model 8 (proposed)",
)
def mobilenetv2_bilstm(num_classes: int):
    from dysmorph_desk.nets.hybrid import MobileNetV2BiLSTM

    return MobileNetV2BiLSTM(num_classes, shared=True)


@register(
    "mobilenetv2_bilstm_unshared",
    target_layer=lambda m: m.features[-1],
    description="MobileNetV2 + ordinary 2-layer BiLSTM(128), dropout 0.3",
    source="seed 000, model 7",
)
def mobilenetv2_bilstm_unshared(num_classes: int):
    from dysmorph_desk.nets.hybrid import MobileNetV2BiLSTM

    return MobileNetV2BiLSTM(num_classes, shared=False)


@register("mobilenetv2", target_layer=lambda m: m.features[-1], source="seeds 000 (TL), 004")
def mobilenetv2(num_classes: int):
    m = _tv("mobilenet_v2")
    _replace_linear(m.classifier, "1", num_classes)
    return m


# VGG: the last conv block's ReLU (14x14) rather than the final max-pool (7x7): finer heatmaps.
@register("vgg16", target_layer=lambda m: m.features[-2], source="seeds 003, 004")
def vgg16(num_classes: int):
    m = _tv("vgg16")
    _replace_linear(m.classifier, "6", num_classes)
    return m


@register("vgg19", target_layer=lambda m: m.features[-2], source="seeds 000 (model 1), 004")
def vgg19(num_classes: int):
    m = _tv("vgg19")
    _replace_linear(m.classifier, "6", num_classes)
    return m


def _resnet(name: str, num_classes: int):
    m = _tv(name)
    _replace_linear(m, "fc", num_classes)
    return m


@register("resnet18", target_layer=lambda m: m.layer4[-1], source="seed 004")
def resnet18(num_classes: int):
    return _resnet("resnet18", num_classes)


@register("resnet34", target_layer=lambda m: m.layer4[-1], source="seed 004")
def resnet34(num_classes: int):
    return _resnet("resnet34", num_classes)


@register("resnet101", target_layer=lambda m: m.layer4[-1], source="seed 000 (model 2)")
def resnet101(num_classes: int):
    return _resnet("resnet101", num_classes)


@register("densenet201", target_layer=lambda m: m.features[-1], source="seed 000 (model 4)")
def densenet201(num_classes: int):
    m = _tv("densenet201")
    _replace_linear(m, "classifier", num_classes)
    return m
