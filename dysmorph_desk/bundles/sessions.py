"""ONNX Runtime sessions for a bundle's graphs, after checking the graphs are what the card says.

A graph is refused (``BundleError``, exit 4) when it cannot be parsed, uses an operator domain other
than the standard ONNX ones, carries local functions, refers to external data other than the
bundle's own weights, declares absurd dimensions, or has inputs and outputs that do not match the
card (class count, input size) and the runtime section (activation shape, embedding size). Only then
is a session created: one per graph, once per process, fed the bundle's weights through
``SessionOptions.add_external_initializers`` so the weights exist once in the file and once in
memory.

The graphs are read with a subset of ONNX's protobuf schema (``onnx_proto``), so the runtime does not
need the ``onnx`` package.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.bundles.container import ATYPICALITY_PREFIX, GRAPH_PREFIX
from dysmorph_desk.errors import BundleError, ModelError
from dysmorph_desk.utils.devices import default_threads

log = logging.getLogger(__name__)

WEIGHTS_LOCATION = "dd-bundle:weights"
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
MAX_DIM = 1_000_000  # no tensor of a face model has an axis this long
MAX_ELEMENTS = 1 << 31
MAX_GRAPH_BYTES = 256 * 1024 * 1024

FORWARD_INPUTS = ("image",)
FORWARD_OUTPUTS = ("logits", "activations", "embedding")
GRADIENT_INPUTS = ("image", "onehot")
GRADIENT_OUTPUTS = ("logits", "activations", "gradients")


@dataclass
class ForwardOut:
    logits: np.ndarray  # (N, C)
    activations: np.ndarray  # (N, *activation_shape)
    embedding: np.ndarray  # (N, D), L2-normalised


@dataclass
class GradientOut:
    logits: np.ndarray  # (1, C)
    activations: np.ndarray  # (1, *activation_shape)
    gradients: np.ndarray  # (1, *activation_shape): d logit[target] / d activations


def providers_for(device: str) -> list[str]:
    """ONNX Runtime execution providers for a device choice (CPU always last, as the fallback)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = {"cuda": "CUDAExecutionProvider", "mps": "CoreMLExecutionProvider"}.get(device, "")
    return ([wanted] if wanted in available else []) + ["CPUExecutionProvider"]


def _dims(value_info: Any) -> list[int | str]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim]


ORT_FORMAT_MARK = b"ORTM"  # ORT's flatbuffer model identifier, at bytes 4-8


def session_options(threads: int) -> Any:
    """ONNX Runtime's options for a bundle's graph (a fresh object: weights are added per graph)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Never spin-wait: on a laptop the UI, the webcam and (in tests and training) torch share the
    # cores, and a spinning thread starves them (measured: 2 spinning threads on a busy 2-core
    # machine ran the hybrid's forward at 21.7 ms, 11.2 ms without spinning).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # ONNX only: bytes that look like ORT's own flatbuffer format ("ORTM" at offset 4) would
    # otherwise be loaded as that format, past every check of check_graph (which also refuses them).
    opts.add_session_config_entry("session.load_model_format", "ONNX")
    return opts


def _graphs(graph: Any) -> Iterator[Any]:
    """``graph`` and, depth first, every subgraph in its nodes' attributes (If, Loop, Scan)."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)


def _tensors(graph: Any, top: bool) -> Iterator[Any]:
    """Every tensor a graph holds outside its own initializers (a subgraph's too): constants in node
    attributes and sparse initializers, each of which could name an external file."""
    if not top:
        yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sparse in [attr.sparse_tensor, *attr.sparse_tensors]:
                yield from (sparse.values, sparse.indices)


def check_graph(
    name: str,
    data: bytes,
    card: ModelCard,
    runtime: dict[str, Any],
    weights: dict[str, np.ndarray],
    where: str,
) -> list[str]:
    """Refuse a graph that is not exactly what the card and runtime section promise.

    Returns the names of the weights the graph takes as external initializers.
    """
    # imported here, as onnx was: protobuf loads only when a bundle is opened, not with the CLI
    from dysmorph_desk.bundles.onnx_proto import EXTERNAL, parse_model

    if len(data) > MAX_GRAPH_BYTES:
        raise BundleError(f"{where}: the {name} graph is implausibly large")
    if data[4:8] == ORT_FORMAT_MARK:  # ONNX Runtime's flatbuffer format, which is never checked
        raise BundleError(f"{where}: the {name} graph is not an ONNX graph (ORT format)")
    try:
        model = parse_model(data)  # the fields read here, parsed as onnx.load_from_string would
    except Exception as exc:  # protobuf's DecodeError and friends
        raise BundleError(f"{where}: the {name} graph is damaged ({type(exc).__name__})") from None
    graph = model.graph
    if len(model.training_info):
        raise BundleError(f"{where}: the {name} graph carries training information")
    graphs = list(_graphs(graph))  # the graph and every subgraph of its nodes' attributes
    bad_domains = {op.domain for op in model.opset_import} - set(STANDARD_DOMAINS)
    bad_domains |= {n.domain for g in graphs for n in g.node} - set(STANDARD_DOMAINS)
    if bad_domains or len(model.functions):
        what = sorted(bad_domains)[0] if bad_domains else "local functions"
        raise BundleError(f"{where}: the {name} graph uses a non-standard operator domain ({what})")
    # only the graph's own initializers may be external, and only as the bundle's weights (below)
    hidden = [t for g in graphs for t in _tensors(g, top=g is graph)]
    if any(t.data_location == EXTERNAL or len(t.external_data) for t in hidden):
        raise BundleError(
            f"{where}: the {name} graph refers to external data other than its weights"
        )
    externals: list[str] = []  # names of weights fed at session creation
    for init in graph.initializer:
        _check_shape(list(init.dims), name, where)
        if init.data_location == EXTERNAL:
            externals.append(init.name)
            location = {e.key: e.value for e in init.external_data}.get("location")
            # the graphs and the atypicality statistics are bundle members, never weights (and
            # read_bundle never puts them in ``weights``; checked here too, by name)
            member = init.name.startswith((GRAPH_PREFIX, ATYPICALITY_PREFIX))
            if location != WEIGHTS_LOCATION or init.name not in weights or member:
                raise BundleError(
                    f"{where}: the {name} graph refers to external data other than its weights"
                )
            if tuple(init.dims) != tuple(weights[init.name].shape):
                raise BundleError(
                    f"{where}: weight {init.name} has shape {tuple(weights[init.name].shape)}, "
                    f"the {name} graph expects {tuple(init.dims)}"
                )
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        _check_shape([d for d in _dims(vi) if isinstance(d, int)], name, where)
    c, s = len(card.classes), card.input_size
    act = [int(v) for v in runtime.get("activation_shape", [])]
    emb = int(runtime.get("embedding_size", 0))
    if name == "forward":
        expect_in = {"image": [None, 3, s, s]}
        expect_out = {"logits": [None, c], "activations": [None, *act], "embedding": [None, emb]}
    else:
        expect_in = {"image": [1, 3, s, s], "onehot": [1, c]}
        expect_out = {"logits": [1, c], "activations": [1, *act], "gradients": [1, *act]}
    inputs = {
        i.name: _dims(i) for i in graph.input if i.name not in {x.name for x in graph.initializer}
    }
    outputs = {o.name: _dims(o) for o in graph.output}
    for kind, got, expect in (("inputs", inputs, expect_in), ("outputs", outputs, expect_out)):
        if set(got) != set(expect):
            raise BundleError(
                f"{where}: the {name} graph's {kind} {sorted(got)} do not match the card "
                f"({sorted(expect)})"
            )
        for key, dims in expect.items():
            if not _same_shape(got[key], dims):
                raise BundleError(
                    f"{where}: the {name} graph's {key} has shape {got[key]}, the card implies {dims}"
                )
    return externals


def _check_shape(dims: list[int], name: str, where: str) -> None:
    total = 1
    for d in dims:
        if d < 0 or d > MAX_DIM:
            raise BundleError(f"{where}: the {name} graph declares an absurd dimension ({d})")
        total *= max(d, 1)
    if total > MAX_ELEMENTS:
        raise BundleError(f"{where}: the {name} graph declares an absurd tensor size")


def _same_shape(got: list[int | str], expect: list[int | None]) -> bool:
    if len(got) != len(expect):
        return False
    return all(e is None or g == e for g, e in zip(got, expect, strict=True))


class OnnxModel:
    """A bundle's two graphs as ONNX Runtime sessions: the screening path's model.

    Sessions are created once (lazily, thread-safe) and reused for every photo; the weights are
    converted to float32 once and fed as external initializers, so nothing grows per photo.
    """

    def __init__(
        self,
        graphs: dict[str, bytes],
        weights: dict[str, np.ndarray],
        externals: dict[str, list[str]],
        *,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self._graphs = graphs
        self._weights = weights
        self._externals = externals
        self.device = device
        self.threads = threads or default_threads()
        self._sessions: dict[str, Any] = {}
        self._values: dict[str, Any] = {}  # weight name -> float32 OrtValue, shared by the graphs
        self._lock = threading.Lock()

    def _session(self, name: str) -> Any:
        with self._lock:
            if name in self._sessions:
                return self._sessions[name]
            import onnxruntime as ort

            names = self._externals[name]
            for key in names:
                if key not in self._values:
                    array = np.ascontiguousarray(self._weights[key], dtype=np.float32)
                    self._values[key] = (array, ort.OrtValue.ortvalue_from_numpy(array))
            opts = session_options(self.threads)
            opts.add_external_initializers(names, [self._values[k][1] for k in names])
            try:
                session = ort.InferenceSession(
                    self._graphs[name], opts, providers=providers_for(self.device)
                )
            except Exception as exc:  # ORT's errors: a graph it cannot load is a bundle error
                raise BundleError(f"the {name} graph cannot be loaded: {exc}") from None
            self._sessions[name] = session
            return session

    def open(self) -> None:
        """Create every session now (a broken graph fails at load, not on the first photo), then
        drop the float32 copies of the weights: ONNX Runtime has copied them into its graphs."""
        for name in self._graphs:
            self._session(name)
        with self._lock:
            self._values.clear()

    def forward(self, images: np.ndarray) -> ForwardOut:
        """Logits, target-layer activations and embeddings for a batch of normalised faces."""
        out = self._run("forward", {"image": np.ascontiguousarray(images, dtype=np.float32)})
        return ForwardOut(*out)

    def gradient(self, image: np.ndarray, target_index: int, num_classes: int) -> GradientOut:
        """Logits, activations and d logit[target] / d activations for one normalised face."""
        onehot = np.zeros((1, num_classes), np.float32)
        onehot[0, target_index] = 1.0
        feed = {"image": np.ascontiguousarray(image, dtype=np.float32), "onehot": onehot}
        return GradientOut(*self._run("gradient", feed))

    def _run(self, name: str, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        session = self._session(name)
        names = FORWARD_OUTPUTS if name == "forward" else GRADIENT_OUTPUTS
        try:
            return [np.asarray(v) for v in session.run(list(names), feed)]
        except MemoryError:
            raise ModelError("out of memory running the model") from None
