"""Hostile model bundles through the CLI: ``models --install X`` and ``screen --model X``.

Every damaged, malformed or hostile bundle is refused with exit 4 and one ``dysmorph-desk: error:``
line naming what is wrong, never 5 and never a traceback; nothing is installed. The bundles are
derived from the shipped ``demo-mobilenetv2`` (renamed ``fuzz-base``, so that no case is refused for
its shipped name), each changing one thing, with the digest recomputed unless the case is about it.
Bundle names that try to leave the models folder are installed under a sanitised name inside it or
refused, and the test checks the file system, not only the exit status.
"""

from __future__ import annotations

import copy
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save

from dysmorph_desk.bundles import container
from dysmorph_desk.bundles.container import BundleContents, read_bundle, write_bundle
from dysmorph_desk.bundles.format import resolve_bundle
from dysmorph_desk.bundles.schema import REQUIRED
from dysmorph_desk.utils import paths
from tests.fuzz.helpers import CLI, check, first_photo, fuzz_settings, strict_json

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "models" / "keys" / "demo-signing-key.pem"

Build = Callable[[Path, BundleContents], Path]


@pytest.fixture(scope="module")
def base() -> BundleContents:
    contents = read_bundle(resolve_bundle("demo-mobilenetv2").path)
    contents.manifest["name"] = "fuzz-base"
    contents.signature = ""  # shipped signed by the demo key: an edit would be refused for that
    return contents


@pytest.fixture(scope="module")
def photo(portraits) -> Path:
    return portraits["grace_hopper"]


def _copy(c: BundleContents, **changes: object) -> BundleContents:
    fields: dict[str, object] = {
        "manifest": copy.deepcopy(c.manifest),
        "runtime": copy.deepcopy(c.runtime),
        "weights": dict(c.weights),
        "graphs": dict(c.graphs),
        "signature": c.signature,
        "atypicality": dict(c.atypicality),
        "extra_metadata": dict(c.extra_metadata),
    }
    fields.update(changes)
    return BundleContents(**fields)  # type: ignore[arg-type]


def _write(tmp: Path, contents: BundleContents, name: str = "hostile.ddbundle") -> Path:
    path = tmp / name
    write_bundle(path, contents, force=True)
    return path


# --- generators: raw bytes ----------------------------------------------------------------------


def _raw(data: bytes) -> Build:
    def build(tmp: Path, base: BundleContents) -> Path:
        path = tmp / "hostile.ddbundle"
        path.write_bytes(data)
        return path

    return build


def _header(header: str | bytes, length: int | None = None, tail: bytes = b"") -> Build:
    """A safetensors file with this header (and its declared length, true unless given)."""
    raw = header.encode("utf-8") if isinstance(header, str) else header
    return _raw(struct.pack("<Q", len(raw) if length is None else length) + raw + tail)


def _metadata(**changes: str) -> Build:
    """The real tensors under edited header metadata, digest recomputed over the edit."""

    def build(tmp: Path, base: BundleContents) -> Path:
        meta = base.metadata()
        meta.update(changes)
        tensors = base.tensors()
        meta["digest"] = container.digest(meta, tensors)
        meta["signature"] = changes.get("signature", "")
        path = tmp / "hostile.ddbundle"
        path.write_bytes(save(tensors, metadata=meta))
        return path

    return build


def _flip_byte(where: float) -> Build:
    def build(tmp: Path, base: BundleContents) -> Path:
        path = _write(tmp, _copy(base))
        data = bytearray(path.read_bytes())
        data[int(len(data) * where)] ^= 0x40
        path.write_bytes(bytes(data))
        return path

    return build


# --- generators: the card -----------------------------------------------------------------------


def _card(edit: Callable[[dict], None]) -> Build:
    def build(tmp: Path, base: BundleContents) -> Path:
        c = _copy(base)
        edit(c.manifest)
        return _write(tmp, c)

    return build


def _set(key: str, value: object) -> Build:
    def edit(card: dict) -> None:
        card[key] = value

    return _card(edit)


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _one_class(card: dict) -> None:
    card["classes"] = card["classes"][:1]


def _duplicate_ids(card: dict) -> None:
    card["classes"][1]["id"] = card["classes"][0]["id"]


def _one_point(card: dict) -> None:
    card["alignment_template"]["points"] = card["alignment_template"]["points"][:1]


def _deep_card_text(tmp: Path, base: BundleContents) -> Path:
    """A manifest string nested far beyond the JSON parser's recursion limit."""
    text = json.dumps(base.manifest)[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    return _metadata(manifest=text)(tmp, base)


def _signed_then_edited(tmp: Path, base: BundleContents) -> Path:
    from dysmorph_desk.bundles.signing import load_private, sign_digest

    c = _copy(base)
    c.signature = sign_digest(load_private(DEMO_KEY), c.digest())
    c.manifest["threshold"] = 0.01  # after signing; write_bundle recomputes the digest
    return _write(tmp, c)


# --- generators: the graphs ---------------------------------------------------------------------


def _graph(name: str, edit: Callable[[onnx.ModelProto], None]) -> Build:
    def build(tmp: Path, base: BundleContents) -> Path:
        model = onnx.load_from_string(base.graphs[name])
        edit(model)
        return _write(tmp, _copy(base, graphs={**base.graphs, name: model.SerializeToString()}))

    return build


def _external_location(location: str) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        init = next(
            i for i in model.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL
        )
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = location

    return edit


def _custom_domain(model: onnx.ModelProto) -> None:
    model.graph.node[0].domain = "com.evil"
    model.opset_import.append(onnx.helper.make_opsetid("com.evil", 1))


def _unknown_operator(model: onnx.ModelProto) -> None:
    model.graph.node[0].op_type = "NoSuchOperator"


def _huge_dimension(model: onnx.ModelProto) -> None:
    tensor = onnx.TensorProto(name="huge", data_type=onnx.TensorProto.FLOAT, dims=[2**40])
    model.graph.initializer.append(tensor)


def _huge_output(model: onnx.ModelProto) -> None:
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 10**9


def _rename_input(model: onnx.ModelProto) -> None:
    old = model.graph.input[0].name
    model.graph.input[0].name = "pixels"
    for node in model.graph.node:
        node.input[:] = ["pixels" if i == old else i for i in node.input]


def _future_opset(model: onnx.ModelProto) -> None:
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = 999


def _drop_graph(tmp: Path, base: BundleContents) -> Path:
    graphs = dict(base.graphs)
    del graphs["gradient"]
    return _write(tmp, _copy(base, graphs=graphs))


def _failed_validation(card: dict) -> None:
    card["status"] = "failed-validation"


# (id, generator, match in the one error line); install and screen both exit 4.
HOSTILE: list[tuple[str, Build, str]] = [
    ("missing-file", lambda tmp, base: tmp / "nowhere.ddbundle", "not found"),
    ("empty-file", _raw(b""), "not a DysmorphDesk bundle"),
    ("short-file", _raw(b"\x01\x02\x03"), "not a DysmorphDesk bundle"),
    ("header-length-huge", _header("{}", length=2**63), "not a DysmorphDesk bundle"),
    ("header-length-past-end", _header("{}", length=4096), "not a DysmorphDesk bundle"),
    ("header-length-short", _header('{"__metadata__": {}}', length=5), "not a DysmorphDesk"),
    ("header-not-json", _header(b"\xff\xfe{not json at all"), "not a DysmorphDesk bundle"),
    ("header-deep-nesting", _header("[" * 100_000 + "]" * 100_000), "not a DysmorphDesk"),
    ("metadata-list", _header('{"__metadata__": ["format", "dysmorph-desk-bundle"]}'), "bundle"),
    ("metadata-string", _header('{"__metadata__": "dysmorph-desk-bundle"}'), "bundle"),
    ("metadata-null", _header('{"__metadata__": null}'), "bundle"),
    ("random-bytes", _raw(np.random.default_rng(1).bytes(4096)), "bundle"),
    ("manifest-list", _metadata(manifest="[]"), "must be a JSON object, got an array"),
    ("manifest-null", _metadata(manifest="null"), "must be a JSON object, got null"),
    ("manifest-string", _metadata(manifest='"card"'), "must be a JSON object, got a string"),
    ("manifest-not-json", _metadata(manifest="{card"), "manifest"),
    ("manifest-deep-text", _deep_card_text, "manifest"),
    ("format-version-9", _metadata(format_version="9"), "format 9"),
    ("runtime-not-object", _metadata(runtime="[1]"), "not a JSON object"),
    ("card-deep-nesting", _set("future", _nested(40)), "nested more than"),
    ("one-class", _card(_one_class), "'classes'"),
    ("duplicate-class-ids", _card(_duplicate_ids), "repeats the class id"),
    ("mean-two-values", _set("mean", [0.5, 0.5]), "'mean'"),
    ("std-zero", _set("std", [0, 0, 0]), "'std[0]'"),
    ("threshold-string", _set("threshold", "0.5"), "'threshold'"),
    ("threshold-nan", _set("threshold", float("nan")), "'threshold'"),
    ("threshold-5", _set("threshold", 5), "'threshold'"),
    ("temperature-negative", _set("temperature", -1), "'temperature'"),
    ("age-range-reversed", _set("age_range_months", [144, 6]), "'age_range_months'"),
    ("template-one-point", _card(_one_point), "'alignment_template.points'"),
    ("input-size-huge", _set("input_size", 10**6), "'input_size'"),
    ("status-unknown", _set("status", "approved"), "'status'"),
    ("status-failed-validation", _card(_failed_validation), "failed validation"),
    ("digest-mismatch", _flip_byte(0.5), "digest mismatch"),
    ("signature-malformed", _metadata(signature="ed25519:abc"), "signature slot is malformed"),
    ("signed-then-edited", _signed_then_edited, "signature does not match"),
    ("graph-missing", _drop_graph, "gradient graph is missing"),
    ("external-data-etc-passwd", _graph("forward", _external_location("/etc/passwd")), "external"),
    ("external-data-dotdot", _graph("gradient", _external_location("../x")), "external data"),
    ("custom-operator-domain", _graph("forward", _custom_domain), "non-standard operator"),
    ("unknown-operator", _graph("forward", _unknown_operator), "cannot be loaded"),
    ("future-opset", _graph("gradient", _future_opset), "cannot be loaded"),
    ("huge-initializer-dimension", _graph("forward", _huge_dimension), "absurd dimension"),
    ("huge-output-dimension", _graph("forward", _huge_output), "absurd dimension"),
    ("graph-input-renamed", _graph("forward", _rename_input), "inputs"),
]
FAST = {
    "header-length-huge",
    "header-not-json",
    "manifest-list",
    "card-deep-nesting",
    "threshold-nan",
    "signed-then-edited",
    "external-data-etc-passwd",
    "graph-input-renamed",
}


def _models_folder_files() -> list[str]:
    folder = paths.user_models_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    ("build", "match"),
    [pytest.param(b, m, id=i, marks=() if i in FAST else pytest.mark.slow) for i, b, m in HOSTILE],
)
def test_hostile_bundle_is_refused_with_exit_4(dd: CLI, tmp_path, base, photo, build, match):
    bundle = build(tmp_path, base)
    installed = dd.expect(4, "models", "--install", bundle)
    assert match in installed.message, installed.message
    assert _models_folder_files() == [], "a refused bundle was installed"
    screened = dd.expect(4, "screen", photo, "--model", bundle, "--json", tmp_path / "r.json")
    assert match in screened.message, screened.message
    assert not (tmp_path / "r.json").exists()


# --- accepted, but not as what they claim -------------------------------------------------------


def test_unsigned_validated_card_is_installed_as_research(dd: CLI, tmp_path, base, photo):
    c = _copy(base)
    c.manifest.update(name="fuzz-validated", status="validated")
    bundle = _write(tmp_path, c)
    dd.expect(0, "models", "--install", bundle)
    assert _models_folder_files() == ["fuzz-validated.ddbundle"]
    listed = strict_json(dd.expect(0, "models", "--json").out)
    assert isinstance(listed, list)
    entry = next(e for e in listed if e["name"] == "fuzz-validated")
    assert entry["status"] == "research" and entry["trust"]["claimed_status"] == "validated"
    assert entry["trust"]["signed"] is False
    out = dd.expect(0, "screen", photo, "--model", "fuzz-validated", "--json", "-", "--cam", "none")
    data = strict_json(out.out)
    assert isinstance(data, dict)
    assert first_photo(data)["results"][0]["model"] == "fuzz-validated"


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_weights_give_cannot_assess_not_a_probability(
    dd: CLI, tmp_path, base, photo, value
):
    """Weights that are NaN/inf load (the digest is intact) but never yield a probability:
    the model's result is "cannot assess" (exit 0: the photo was screened), and the JSON is strict."""
    weights = {
        k: np.full_like(v, value) if np.issubdtype(v.dtype, np.floating) else v
        for k, v in base.weights.items()
    }
    c = _copy(base, weights=weights)
    c.manifest["name"] = "fuzz-nan"
    bundle = _write(tmp_path, c)
    j, r = tmp_path / "r.json", tmp_path / "r.pdf"
    out = dd.expect(0, "screen", photo, "--model", bundle, "--json", j, "--report", r)
    data = strict_json(j.read_bytes())
    assert isinstance(data, dict)
    (result,) = first_photo(data)["results"]
    assert result["assessable"] is False, result
    assert "invalid number" in result["cannot_assess_reason"], result
    assert result["probabilities"] is None and result["flagged"] is None
    assert "cannot assess" in out.out and "invalid number" in out.out
    assert r.read_bytes().startswith(b"%PDF-")


# --- names: never a file outside the user's models folder ---------------------------------------

ESC_NAME = "\x1b[31mred"
NAMES: list[tuple[str, str, int, str | None]] = [
    # (id, card name, exit status, installed file name or None)
    ("absolute", "/tmp/x", 0, "tmp-x.ddbundle"),
    ("dotdot", "../../../tmp/x", 0, "tmp-x.ddbundle"),
    ("fullwidth-shipped", "ｄｅｍｏ-hybrid", 4, None),
    ("shipped", "demo-hybrid", 4, None),
    ("slash", "a/b", 0, "a-b.ddbundle"),
    ("hidden", ".hidden", 0, "hidden.ddbundle"),
    ("200-chars", "x" * 200, 4, None),
    ("escape-codes", ESC_NAME, 4, None),
    ("only-dots", "...", 4, None),
    ("nul", "a\x00b", 4, None),
]
FAST_NAMES = {"dotdot", "fullwidth-shipped", "escape-codes"}


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(
    ("name", "expected", "installed_as"),
    [
        pytest.param(n, e, f, id=i, marks=() if i in FAST_NAMES else pytest.mark.slow)
        for i, n, e, f in NAMES
    ],
)
def test_install_never_writes_outside_the_models_folder(
    dd: CLI, tmp_path, base, monkeypatch, _isolated_home, name, expected, installed_as
):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # a relative escape would land here, where the test can see it
    c = _copy(base)
    c.manifest["name"] = name
    bundle = _write(tmp_path, c, "named.ddbundle")
    outside = [Path("/tmp/x"), Path("/tmp/x.ddbundle"), Path("/tmp/tmp-x.ddbundle")]
    before_outside = [p.exists() for p in outside]
    before_tmp = _tree(tmp_path)

    result = dd.expect(expected, "models", "--install", bundle)

    folder = paths.user_models_dir()
    assert _tree(tmp_path) == before_tmp, "install wrote beside the bundle or in the cwd"
    assert [p.exists() for p in outside] == before_outside
    written = {p for p in _tree(_isolated_home) if p.suffix == ".ddbundle" or p.is_symlink()}
    if installed_as is None:
        assert written == set(), written
        return
    assert written == {folder / installed_as}, written
    assert result.out.strip() == str(folder / installed_as)
    listed = strict_json(dd.expect(0, "models", "--json").out)
    assert isinstance(listed, list)
    assert any(e["name"] == name and e["source"] == "user" for e in listed)


@pytest.mark.slow
def test_install_refuses_a_symlink_in_the_models_folder(dd: CLI, tmp_path, base):
    folder = paths.user_models_dir()
    folder.mkdir(parents=True)
    target = tmp_path / "victim.txt"
    target.write_text("keep me")
    (folder / "fuzz-base.ddbundle").symlink_to(target)
    result = dd.expect(4, "models", "--install", _write(tmp_path, _copy(base)))
    assert "link" in result.message
    assert target.read_text() == "keep me"


# --- bundle paths that are not regular files, or not file names at all ---------------------------


@pytest.mark.parametrize(
    ("model", "match", "status"),
    [
        pytest.param("m" * 300, "bundle", 4, id="name-too-long"),
        pytest.param(
            "m" * 300 + ".ddbundle", "bundle", 4, id="path-too-long", marks=pytest.mark.slow
        ),
        pytest.param("a\x00b.ddbundle", "bundle", 4, id="nul", marks=pytest.mark.slow),
        pytest.param("/dev/zero", "bundle", 4, id="dev-zero", marks=pytest.mark.slow),
        pytest.param("", "bundle", 4, id="empty", marks=pytest.mark.slow),
        # a plain name no bundle has is a usage error (exit 2, "did you mean"), shown escaped
        pytest.param("\x1b[31mred", "bundle", 2, id="escape-codes", marks=pytest.mark.slow),
    ],
)
def test_screen_model_that_is_no_bundle_file(dd: CLI, photo, model, match, status):
    result = dd.expect(status, "screen", photo, "--model", model, "--cam", "none")
    assert match in result.message


@pytest.mark.parametrize("kind", ["fifo", pytest.param("dev-zero-link", marks=pytest.mark.slow)])
def test_install_of_a_non_regular_file_is_refused_without_blocking(dd: CLI, tmp_path, kind):
    bundle = tmp_path / "b.ddbundle"
    if kind == "fifo":
        os.mkfifo(bundle)
    else:
        bundle.symlink_to("/dev/zero")
    result = dd.expect_sub(4, "models", "--install", bundle, timeout=30)
    assert "b.ddbundle" in result.message
    assert _models_folder_files() == []


@pytest.mark.slow
def test_a_fifo_in_the_models_folder_blocks_nothing(dd: CLI, tmp_path, photo):
    """A named pipe called *.ddbundle in the user's folder is skipped, not read (it would block)."""
    folder = paths.user_models_dir()
    folder.mkdir(parents=True)
    os.mkfifo(folder / "evil.ddbundle")
    listed = strict_json(dd.expect_sub(0, "models", "--json", timeout=30).out)
    assert isinstance(listed, list) and {e["name"] for e in listed} >= {"demo-hybrid"}
    dd.expect_sub(0, "screen", photo, "--json", "-", "--cam", "none", timeout=30)


# --- random values in the card and the header -----------------------------------------------------

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
CARD_FIELDS = (  # every field the validator requires, and the optional ones
    *REQUIRED,
    "validation_metrics",
    "temperature",
    "age_range_months",
    "created",
    "description",
)


@pytest.mark.parametrize(
    "max_examples",
    [pytest.param(8, id="fast"), pytest.param(80, id="slow", marks=pytest.mark.slow)],
)
def test_random_card_values_install_or_are_refused(dd: CLI, tmp_path, base, max_examples):
    """Any JSON value in any card field (or a field deleted): installed (0) or refused (4)."""
    counter = iter(range(10**6))
    codes: list[int] = []

    @fuzz_settings(max_examples)
    @given(
        edits=st.lists(
            st.tuples(st.sampled_from(CARD_FIELDS), st.none() | _json),
            min_size=1,
            max_size=3,
        ),
        nested=st.booleans(),
    )
    def fuzz(edits: list[tuple[str, object]], nested: bool) -> None:
        c = _copy(base)
        for key, value in edits:
            if value is None and not nested:
                c.manifest.pop(key, None)
            elif nested and isinstance(c.manifest.get(key), dict) and c.manifest[key]:
                inner = sorted(c.manifest[key])[0]  # one level down: points, landmarks, metrics
                c.manifest[key][inner] = value
            else:
                c.manifest[key] = value
        bundle = _write(tmp_path, c, f"r{next(counter)}.ddbundle")
        outcome = dd.run("models", "--install", bundle)
        check(outcome, 0 if outcome.code == 0 else 4)
        codes.append(outcome.code)
        bundle.unlink()  # 11 MB an example: the suite must fit a small disk
        for installed in paths.user_models_dir().glob("*"):
            installed.unlink()  # the next example installs afresh

    fuzz()
    assert 4 in codes


@pytest.mark.parametrize(
    "max_examples",
    [pytest.param(8, id="fast"), pytest.param(60, id="slow", marks=pytest.mark.slow)],
)
def test_random_header_metadata_is_refused(dd: CLI, tmp_path, max_examples):
    """A safetensors header whose metadata is any JSON: refused (4), never a crash."""
    counter = iter(range(10**6))

    @fuzz_settings(max_examples)
    @given(
        meta=_json,
        fields=st.dictionaries(
            st.sampled_from(
                ["format", "format_version", "manifest", "runtime", "digest", "signature"]
            ),
            _json,
        ),
    )
    def fuzz(meta: object, fields: dict[str, object]) -> None:
        if isinstance(meta, dict):
            meta = {**meta, "format": "dysmorph-desk-bundle", **fields}
        header = json.dumps(
            {"__metadata__": meta, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
        )
        path = tmp_path / f"h{next(counter)}.ddbundle"
        path.write_bytes(struct.pack("<Q", len(header.encode())) + header.encode() + b"\0\0\0\0")
        dd.expect(4, "models", "--install", path)

    fuzz()


@pytest.mark.slow
def test_sign_with_names_that_cannot_be_files(dd: CLI, tmp_path, base):
    key = str(DEMO_KEY)
    long_name = tmp_path / ("m" * 300 + ".ddbundle")
    result = dd.expect(4, "models", "--sign", long_name, "--key", key)
    assert "not found" in result.message
    bundle = _write(tmp_path, _copy(base), "ok.ddbundle")
    result = dd.expect(2, "models", "--sign", bundle, "--key", key, "--out", long_name)
    assert "cannot write" in result.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.ddbundle"]
