"""The MTCNN cascade (Zhang et al. 2016) on ONNX Runtime, without torch.

A re-implementation of facenet-pytorch 2.5.3's ``detect_face`` for one RGB image, step for step, so
that it finds the same faces with the same boxes, scores and landmarks:

* image pyramid: scales ``12 / min_face * factor**k`` while the short side stays >= 12 px, each level
  resized with PyTorch's ``interpolate(mode="area")`` (that is adaptive average pooling, which this
  module computes exactly, from an integral image, instead of OpenCV's INTER_AREA, whose fractional
  pixel weights give different pixels);
* PNet on every level, ``generateBoundingBox`` (stride 2, cell 12), NMS 0.5 per level and 0.7 across
  levels (torchvision's IoU, without the +1), the PNet box regression, ``rerec`` and ``pad``;
* RNet on 24x24 crops (area-resampled like the pyramid), threshold, NMS 0.7, ``bbreg``, ``rerec``;
* ONet on 48x48 crops, threshold, landmarks relative to the box, ``bbreg``, and a last NMS 0.7 with
  the "Min" overlap (intersection over the smaller box, with the +1 of the original MATLAB code).

Inputs of every network are ``(pixel - 127.5) * 0.0078125``, bit-identical to facenet-pytorch's (the
area resampling rounds as PyTorch's does). Box arithmetic and NMS are float32 in facenet-pytorch's
and torchvision's order, so the outputs differ only by the networks' own float rounding (ONNX Runtime
against PyTorch: ~1e-5 px on boxes and landmarks in tests/faces/test_detect_onnx.py).

Faster than facenet-pytorch where it can be without changing results: one integral image serves
every pyramid level and every crop, RNet and ONet each run once on all candidate boxes, crops and
box arithmetic are vectorised (no per-box Python loop), and NMS works on an IoU matrix. The pyramid
is facenet-pytorch's, level for level: dropping levels would lose faces at the skipped sizes. The
ONNX files are exported from facenet-pytorch's weights by ``scripts/export_mtcnn.py`` and ship in
``resources/mtcnn/``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dysmorph_desk.utils import resources
from dysmorph_desk.utils.devices import default_threads

NET_NAMES = ("pnet", "rnet", "onet")
DEFAULT_THRESHOLDS = (0.6, 0.7, 0.7)
DEFAULT_FACTOR = 0.709  # facenet-pytorch's pyramid step
_MEAN, _SCALE = np.float32(127.5), np.float32(0.0078125)


@dataclass
class Detections:
    """Faces found in one image, in the pixels of the image passed to ``MTCNN.detect``.

    ``boxes`` (N, 4) x0, y0, x1, y1; ``scores`` (N,); ``landmarks`` (N, 5, 2) x, y of left eye,
    right eye, nose, left and right mouth corner. Largest box first, as facenet-pytorch's
    ``MTCNN(select_largest=True).detect``. All float32.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty() -> Detections:
        return Detections(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        )


# --- resampling -------------------------------------------------------------------------------------


def _bins(out_size: int | np.ndarray, in_size: int | np.ndarray, n: int) -> tuple[Any, Any]:
    """Start and end (exclusive) input index of each of ``n`` adaptive-pooling bins.

    PyTorch's ``start_index = floor(i * in / out)`` and ``end_index = ceil((i + 1) * in / out)``;
    ``out_size`` and ``in_size`` may be arrays (one row per box).
    """
    i = np.arange(n, dtype=np.int64)
    out = np.asarray(out_size, dtype=np.int64)[..., None]
    size = np.asarray(in_size, dtype=np.int64)[..., None]
    start = (i * size) // out
    end = ((i + 1) * size + out - 1) // out
    return start, end


def _mean(total: np.ndarray, kh: np.ndarray, kw: np.ndarray) -> np.ndarray:
    """Window sums -> network input, rounded as PyTorch's adaptive average pooling does.

    PyTorch sums the (integer-valued, < 2**24) pixels exactly and divides twice in float32,
    ``sum / kh / kw``; the network input is then ``(mean - 127.5) * 0.0078125`` (exact in float32).
    """
    mean = total.astype(np.float32) / kh.astype(np.float32) / kw.astype(np.float32)
    return (mean - _MEAN) * _SCALE


def _integral(rgb: np.ndarray) -> np.ndarray:
    """Summed-area table per channel, (3, H+1, W+1); int32 is exact for images up to 8.4 MP."""
    h, w = rgb.shape[:2]
    small = h * w <= (2**31 - 1) // 255
    out = np.empty((3, h + 1, w + 1), np.int32 if small else np.float64)
    for c, plane in enumerate(cv2.split(rgb)):  # one plane at a time: no strided transpose
        cv2.integral(plane, sum=out[c], sdepth=cv2.CV_32S if small else cv2.CV_64F)
    return out


def pyramid_scales(h: int, w: int, min_face: float, factor: float) -> list[float]:
    """facenet-pytorch's scale pyramid (same float arithmetic)."""
    m = 12.0 / min_face
    minl = min(h, w) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale = scale * factor
        minl = minl * factor
    return scales


def _resample_level(integral: np.ndarray, h: int, w: int, oh: int, ow: int) -> np.ndarray:
    """``interpolate(img, (oh, ow), mode="area")`` of the whole image -> (1, 3, oh, ow) input.

    Separable: row windows first (whole rows of the integral image), then column windows.
    """
    r0, r1 = _bins(oh, h, oh)
    c0, c1 = _bins(ow, w, ow)
    rows = integral[:, r1] - integral[:, r0]  # (3, oh, W+1)
    total = rows[:, :, c1] - rows[:, :, c0]  # (3, oh, ow)
    return _mean(total, (r1 - r0)[:, None], (c1 - c0)[None, :])[None]


def _crops(
    integral: np.ndarray, y: np.ndarray, ey: np.ndarray, x: np.ndarray, ex: np.ndarray, size: int
) -> np.ndarray:
    """``imresample(img[:, y-1:ey, x-1:ex], (size, size))`` for every box at once: (K, 3, s, s).

    ``y, ey, x, ex`` are ``pad``'s 1-based inclusive bounds. One gather per window corner from the
    flattened integral image, with (K, 3, s, s) flat indices.
    """
    r0, r1 = _bins(size, ey - y + 1, size)  # (K, size), relative to the crop
    c0, c1 = _bins(size, ex - x + 1, size)
    kh, kw = (r1 - r0)[:, None, :, None], (c1 - c0)[:, None, None, :]
    _, rows, stride = integral.shape
    top = (y - 1).astype(np.int64)[:, None]
    left = (x - 1).astype(np.int64)[:, None]
    channel = (np.arange(3, dtype=np.int64) * rows * stride)[None, :, None, None]
    lo = ((r0 + top) * stride)[:, None, :, None] + channel  # (K, 3, s, 1)
    hi = ((r1 + top) * stride)[:, None, :, None] + channel
    c0, c1 = (c0 + left)[:, None, None, :], (c1 + left)[:, None, None, :]  # (K, 1, 1, s)
    flat = integral.ravel()
    total = flat[hi + c1] - flat[lo + c1] - flat[hi + c0] + flat[lo + c0]
    return _mean(total, kh, kw)


# --- box arithmetic (float32, as facenet-pytorch) -----------------------------------------------------


_NMS_MATRIX_MAX = 2048  # up to this many boxes, the IoU matrix (<= 16 MB) is computed at once


def _above(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values > threshold`` for float32 values against a double threshold, as C++ compares."""
    t32 = np.float32(threshold)
    return values >= t32 if float(t32) > threshold else values > t32


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.nms on CPU: stable sort by score, IoU without +1, suppress IoU > threshold.

    Returns kept indices in decreasing score order. Float32 arithmetic in torchvision's order.
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores.astype(np.float32), kind="stable")
    b = boxes[order, :4].astype(np.float32, copy=False)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    zero = np.float32(0)
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    if n <= _NMS_MATRIX_MAX:
        w = np.maximum(zero, np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1))
        h = np.maximum(zero, np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1))
        inter = w * h
        over = _above(inter / ((areas[:, None] + areas) - inter), threshold)
        for i in range(n):
            if not suppressed[i]:
                keep.append(i)
                suppressed |= over[i]
        return order[np.asarray(keep, dtype=np.int64)]
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = i + 1 + np.flatnonzero(~suppressed[i + 1 :])
        w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        suppressed[rest[_above(inter / ((areas[i] + areas[rest]) - inter), threshold)]] = True
    return order[np.asarray(keep, dtype=np.int64)]


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's ``nms_numpy(..., 'Min')`` (the final ONet NMS), same numpy operations."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        idx = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[idx]) - np.maximum(x1[i], x1[idx]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[idx]) - np.maximum(y1[i], y1[idx]) + 1)
        o = (w * h) / np.minimum(area[i], area[idx])
        order = order[np.where(o <= threshold)]
    return np.asarray(pick, dtype=np.int64)


def _generate_boxes(
    reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
) -> np.ndarray:
    """PNet map -> candidate boxes (K, 9): x1, y1, x2, y2, score, 4 regression values."""
    ys, xs = np.nonzero(prob >= threshold)  # row-major, as torch.nonzero
    score = prob[ys, xs]
    regs = reg[:, ys, xs].T
    s = np.float32(scale)
    bb = np.stack([xs, ys], axis=1).astype(np.float32)
    q1 = np.floor((np.float32(2) * bb + np.float32(1)) / s)
    q2 = np.floor((np.float32(2) * bb + np.float32(12)) / s)
    return np.concatenate([q1, q2, score[:, None], regs], axis=1).astype(np.float32)


def rerec(boxes: np.ndarray) -> np.ndarray:
    """Square boxes around the same centre (in place on a float32 (K, >=4) array)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    half = np.float32(0.5)
    boxes[:, 0] = boxes[:, 0] + w * half - side * half
    boxes[:, 1] = boxes[:, 1] + h * half - side * half
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def bbreg(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply a box regression (in place on float32 boxes)."""
    one = np.float32(1)
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    b = np.stack(
        [
            boxes[:, 0] + reg[:, 0] * w,
            boxes[:, 1] + reg[:, 1] * h,
            boxes[:, 2] + reg[:, 2] * w,
            boxes[:, 3] + reg[:, 3] * h,
        ],
        axis=1,
    )
    boxes[:, :4] = b
    return boxes


def pad(boxes: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1-based inclusive crop rows/columns, clipped to the image: y, ey, x, ex (int32)."""
    b = np.trunc(boxes[:, :4]).astype(np.int32)
    x = np.maximum(b[:, 0], 1)
    y = np.maximum(b[:, 1], 1)
    ex = np.minimum(b[:, 2], w)
    ey = np.minimum(b[:, 3], h)
    return y, ey, x, ex


# --- sessions -------------------------------------------------------------------------------------------


def _providers(device: str) -> list[Any]:
    """CUDA for "cuda"/"cuda:N" where onnxruntime has it (onnxruntime-gpu), else the CPU."""
    import onnxruntime as ort

    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        index = device.partition(":")[2]
        options = {"device_id": int(index)} if index.isdigit() else {}
        return [("CUDAExecutionProvider", options), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _make_session(name: str, threads: int, device: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.add_session_config_entry("session.load_model_format", "ONNX")  # never ORT's own format
    opts.log_severity_level = 3
    data = resources.resource("mtcnn", f"{name}.onnx").read_bytes()
    return ort.InferenceSession(data, sess_options=opts, providers=_providers(device))


class MTCNN:
    """MTCNN face detector on ONNX Runtime. Sessions are created on first use; ``detect`` is
    thread-safe (ONNX Runtime sessions may be run from several threads)."""

    def __init__(
        self,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        factor: float = DEFAULT_FACTOR,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.threads = threads or default_threads()
        self.device = device
        self._sessions: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _session(self, name: str):
        if self._sessions is None:
            with self._lock:
                if self._sessions is None:
                    self._sessions = {
                        n: _make_session(n, self.threads, self.device) for n in NET_NAMES
                    }
        return self._sessions[name]

    # The three networks; tests may replace these to run the cascade on other implementations.
    def run_pnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reg, prob = self._session("pnet").run(None, {"image": x})
        return reg, prob

    def run_rnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reg, prob = self._session("rnet").run(None, {"image": x})
        return reg, prob

    def run_onet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        reg, points, prob = self._session("onet").run(None, {"image": x})
        return reg, points, prob

    def warm_up(self) -> None:
        """Create the sessions now (otherwise the first ``detect`` does)."""
        for name in NET_NAMES:
            self._session(name)

    def detect(self, rgb: np.ndarray, min_face: float = 20.0) -> Detections:
        """Faces in an RGB uint8 image (H, W, 3), largest first."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB image (H, W, 3), got shape {rgb.shape}")
        h, w = rgb.shape[:2]
        scales = pyramid_scales(h, w, min_face, self.factor)
        if not scales:  # smaller than one PNet window
            return Detections.empty()
        integral = _integral(rgb)

        boxes = self._stage1(integral, h, w, scales)
        if len(boxes) == 0:
            return Detections.empty()
        boxes = self._stage2(integral, h, w, boxes)
        if len(boxes) == 0:
            return Detections.empty()
        boxes, points = self._stage3(integral, h, w, boxes)
        if len(boxes) == 0:
            return Detections.empty()
        order = np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[::-1]
        return Detections(
            boxes=np.ascontiguousarray(boxes[order, :4]),
            scores=np.ascontiguousarray(boxes[order, 4]),
            landmarks=np.ascontiguousarray(points[order]),
        )

    def _stage1(self, integral: np.ndarray, h: int, w: int, scales: list[float]) -> np.ndarray:
        """PNet over the pyramid -> squared candidate boxes (K, 5) after NMS and regression."""
        found = []
        for scale in scales:
            oh, ow = int(h * scale + 1), int(w * scale + 1)
            reg, prob = self.run_pnet(_resample_level(integral, h, w, oh, ow))
            level = _generate_boxes(reg[0], prob[0, 1], scale, self.thresholds[0])
            if len(level):
                found.append(level[nms(level[:, :4], level[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate(found, axis=0)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        out = np.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ],
            axis=1,
        )
        return rerec(out)

    def _crop_batch(
        self, integral: np.ndarray, h: int, w: int, boxes: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        y, ey, x, ex = pad(boxes, w, h)
        valid = (ey > y - 1) & (ex > x - 1)  # facenet-pytorch skips empty crops
        if not valid.all():
            boxes, y, ey, x, ex = boxes[valid], y[valid], ey[valid], x[valid], ex[valid]
        return boxes, _crops(integral, y, ey, x, ex, size)

    def _stage2(self, integral: np.ndarray, h: int, w: int, boxes: np.ndarray) -> np.ndarray:
        boxes, crops = self._crop_batch(integral, h, w, boxes, 24)
        if len(boxes) == 0:
            return boxes
        reg, prob = self.run_rnet(crops)
        score = prob[:, 1]
        ipass = score > self.thresholds[1]
        boxes = np.concatenate([boxes[ipass, :4], score[ipass, None]], axis=1).astype(np.float32)
        reg = reg[ipass]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes, reg = boxes[pick], reg[pick]
        return rerec(bbreg(boxes, reg))

    def _stage3(
        self, integral: np.ndarray, h: int, w: int, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        boxes, crops = self._crop_batch(integral, h, w, boxes, 48)
        if len(boxes) == 0:
            return boxes, np.zeros((0, 5, 2), np.float32)
        reg, points, prob = self.run_onet(crops)
        score = prob[:, 1]
        ipass = score > self.thresholds[2]
        boxes = np.concatenate([boxes[ipass, :4], score[ipass, None]], axis=1).astype(np.float32)
        reg, points = reg[ipass], points[ipass]
        one = np.float32(1)
        w_i = (boxes[:, 2] - boxes[:, 0] + one)[:, None]
        h_i = (boxes[:, 3] - boxes[:, 1] + one)[:, None]
        px = w_i * points[:, :5] + boxes[:, 0:1] - one
        py = h_i * points[:, 5:10] + boxes[:, 1:2] - one
        landmarks = np.stack([px, py], axis=2).astype(np.float32)
        boxes = bbreg(boxes, reg)
        pick = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        return boxes[pick], landmarks[pick]
