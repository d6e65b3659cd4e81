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
    head_layer=lambda m: m.classifier,
    description="MobileNetV2 + optimized (weight-shared) 2-layer BiLSTM(128), dropout 0.3",
    source="Rezaee 2024 (JAIDM): the proposed model",
)
def mobilenetv2_bilstm(num_classes: int):
    from dysmorph_desk.nets.hybrid import MobileNetV2BiLSTM

    return MobileNetV2BiLSTM(num_classes, shared=True)


@register(
    "mobilenetv2_bilstm_unshared",
    target_layer=lambda m: m.features[-1],
    head_layer=lambda m: m.classifier,
    description="MobileNetV2 + ordinary 2-layer BiLSTM(128), dropout 0.3",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def mobilenetv2_bilstm_unshared(num_classes: int):
    from dysmorph_desk.nets.hybrid import MobileNetV2BiLSTM

    return MobileNetV2BiLSTM(num_classes, shared=False)


@register(
    "mobilenetv2",
    target_layer=lambda m: m.features[-1],
    head_layer=lambda m: m.classifier[1],
    description="MobileNetV2 (torchvision), its last linear layer sized to the classes",
    source="Rezaee 2024 (JAIDM, transfer learning); Liu 2021 (Front Pediatr)",
)
def mobilenetv2(num_classes: int):
    m = _tv("mobilenet_v2")
    _replace_linear(m.classifier, "1", num_classes)
    return m


# VGG: the last conv block's ReLU (14x14) rather than the final max-pool (7x7): finer heatmaps.
@register(
    "vgg16",
    target_layer=lambda m: m.features[-2],
    head_layer=lambda m: m.classifier[6],
    description="VGG-16 (torchvision), its last fully connected layer sized to the classes",
    source="Hong 2021 (Orphanet J Rare Dis); Liu 2021 (Front Pediatr)",
)
def vgg16(num_classes: int):
    m = _tv("vgg16")
    _replace_linear(m.classifier, "6", num_classes)
    return m


@register(
    "vgg19",
    target_layer=lambda m: m.features[-2],
    head_layer=lambda m: m.classifier[6],
    description="VGG-19 (torchvision), its last fully connected layer sized to the classes",
    source="Rezaee 2024 (JAIDM): comparison model; Liu 2021 (Front Pediatr)",
)
def vgg19(num_classes: int):
    m = _tv("vgg19")
    _replace_linear(m.classifier, "6", num_classes)
    return m


def _resnet(name: str, num_classes: int):
    m = _tv(name)
    _replace_linear(m, "fc", num_classes)
    return m


@register(
    "resnet18",
    target_layer=lambda m: m.layer4[-1],
    head_layer=lambda m: m.fc,
    description="ResNet-18 (torchvision), its fully connected layer sized to the classes",
    source="Liu 2021 (Front Pediatr)",
)
def resnet18(num_classes: int):
    return _resnet("resnet18", num_classes)


@register(
    "resnet34",
    target_layer=lambda m: m.layer4[-1],
    head_layer=lambda m: m.fc,
    description="ResNet-34 (torchvision), its fully connected layer sized to the classes",
    source="Liu 2021 (Front Pediatr)",
)
def resnet34(num_classes: int):
    return _resnet("resnet34", num_classes)


@register(
    "resnet101",
    target_layer=lambda m: m.layer4[-1],
    head_layer=lambda m: m.fc,
    description="ResNet-101 (torchvision), its fully connected layer sized to the classes",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def resnet101(num_classes: int):
    return _resnet("resnet101", num_classes)


@register(
    "densenet201",
    target_layer=lambda m: m.features[-1],
    head_layer=lambda m: m.classifier,
    description="DenseNet-201 (torchvision), its classifier sized to the classes",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def densenet201(num_classes: int):
    m = _tv("densenet201")
    _replace_linear(m, "classifier", num_classes)
    return m


@register(
    "mobilenet",
    target_layer=lambda m: m.features[-1],
    head_layer=lambda m: m.classifier,
    description="MobileNet v1 (width 1.0): 13 depthwise-separable conv blocks, dropout 0.3, linear",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def mobilenet(num_classes: int):
    from dysmorph_desk.nets.mobilenet_v1 import MobileNetV1

    return MobileNetV1(num_classes)


# The CAM reads the 56x56 downscaled face the LSTM reads row by row: a coarse, row-resolution map.
@register(
    "bilstm",
    target_layer=lambda m: m.downscale,
    head_layer=lambda m: m.classifier,
    description="BiLSTM alone: the 56 rows of the 56x56 downscaled face as a sequence, 2-layer BiLSTM(128), "
    "dropout 0.3",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def bilstm(num_classes: int):
    from dysmorph_desk.nets.rowlstm import RowBiLSTM

    return RowBiLSTM(num_classes)


@register(
    "inception_v4",
    target_layer=lambda m: m.features[-1],
    head_layer=lambda m: m.last_linear,
    input_size=299,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    description="Inception-v4: stem, 4xA, Reduction-A, 7xB, Reduction-B, 3xC, avg pool, dropout 0.2",
    source="Rezaee 2024 (JAIDM): comparison model",
)
def inception_v4(num_classes: int):
    from dysmorph_desk.nets.inception_v4 import InceptionV4

    return InceptionV4(num_classes)


@register(
    "vgg16_convhead",
    target_layer=lambda m: m.features[-2],
    head_layer=lambda m: m.head[-1],
    description="VGG-16 conv layers; FC layers replaced by convolutions (3x3 512, 1x1 256, 1x1 classes) "
    "with BN, ReLU, 50% dropout; global average pool",
    source="Hong 2021 (Orphanet J Rare Dis): the screening model",
)
def vgg16_convhead(num_classes: int):
    from dysmorph_desk.nets.vgg_convhead import VGG16ConvHead

    return VGG16ConvHead(num_classes)


_IRESNET = {
    "input_size": 112,
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "source": "Shen 2024 (Postgrad Med J)",
}


@register(
    "iresnet100_arcface",
    target_layer=lambda m: m.layer4[-1],
    head_layer=lambda m: m.head,
    description="IResNet-100 (insightface) 512-d embedding + ArcFace head: logits s*cos(theta), training "
    "margin s*cos(theta+m) on the target class, s=64, m=0.5",
    **_IRESNET,
)
def iresnet100_arcface(num_classes: int):
    from dysmorph_desk.nets.iresnet import IResNetMargin

    return IResNetMargin(num_classes, "arcface")


@register(
    "iresnet100_cosface",
    target_layer=lambda m: m.layer4[-1],
    head_layer=lambda m: m.head,
    description="IResNet-100 (insightface) 512-d embedding + CosFace head: logits s*cos(theta), training "
    "margin s*(cos(theta)-m) on the target class, s=64, m=0.35",
    **_IRESNET,
)
def iresnet100_cosface(num_classes: int):
    from dysmorph_desk.nets.iresnet import IResNetMargin

    return IResNetMargin(num_classes, "cosface")
