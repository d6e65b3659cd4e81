"""The atypicality members of a bundle: calibrated torch-free, covered by the digest, never weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.bundles.container import (
    ATYPICALITY_PREFIX,
    read_bundle,
    read_metadata,
    write_bundle,
)
from dysmorph_desk.bundles.format import load_bundle, read_header
from dysmorph_desk.bundles.sessions import check_graph
from dysmorph_desk.errors import BundleError
from tests.cli_helpers import run

REPO = Path(__file__).resolve().parents[2]
DEMO_PRIVATE = REPO / "models" / "keys" / "demo-signing-key.pem"


def test_calibrate_round_trip_drops_the_signature_or_re_signs(
    tmp_path, capsys, test_bundle, calibration_data
):
    signed = tmp_path / "signed.ddbundle"
    code, _, err = run(
        capsys, "models", "--sign", test_bundle, "--key", DEMO_PRIVATE, "--out", signed
    )
    assert code == 0, err
    assert read_header(signed).trust.signed
    before = signed.read_bytes()

    new = tmp_path / "new.ddbundle"
    code, out, err = run(
        capsys, "models", "--calibrate", signed, "--data", calibration_data, "--out", new
    )
    assert code == 0, err
    assert out.strip() == str(new) and signed.read_bytes() == before  # the source is untouched
    assert "signature" in err and "--sign" in err and "atypicality statistics from 40 photos" in err
    contents = read_bundle(new)  # the digest covers the new members
    assert set(contents.atypicality) == {"mean", "precision"}
    assert contents.atypicality["precision"].shape == (256, 256)
    assert len(contents.runtime["atypicality"]["percentiles"]) == 101
    assert not any(k.startswith(ATYPICALITY_PREFIX) for k in contents.weights)
    assert contents.signature == "" and not read_header(new).trust.signed
    assert contents.manifest == read_bundle(signed).manifest  # the card is as it was
    assert load_bundle(new).atypicality["mean"].shape == (256,)

    resigned = tmp_path / "resigned.ddbundle"
    code, _, err = run(
        capsys,
        "models",
        "--calibrate",
        signed,
        "--data",
        calibration_data,
        "--out",
        resigned,
        "--key",
        DEMO_PRIVATE,
    )
    assert code == 0, err
    assert "re-signed" in err
    trust = read_header(resigned).trust
    assert trust.signed and trust.effective_status == "demonstration"
    assert np.array_equal(
        read_bundle(resigned).atypicality["precision"], contents.atypicality["precision"]
    )

    # signing keeps the statistics (they are members like any other)
    code, _, err = run(
        capsys, "models", "--sign", new, "--key", DEMO_PRIVATE, "--out", resigned, "--force"
    )
    assert code == 0, err
    assert np.array_equal(read_bundle(resigned).atypicality["mean"], contents.atypicality["mean"])
    assert load_bundle(resigned).atypicality

    # in place, and the option checks
    code, _, err = run(capsys, "models", "--calibrate", new, "--data", calibration_data)
    assert code == 0, err
    assert run(capsys, "models", "--calibrate", new)[0] == 2  # no --data
    assert run(capsys, "models", "--data", calibration_data)[0] == 2  # --data alone
    code, _, err = run(
        capsys, "models", "--calibrate", signed, "--data", calibration_data, "--out", resigned
    )
    assert code == 2 and "--force" in err


def _tensor_offset(path: Path, name: str) -> int:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return 8 + n + header[name]["data_offsets"][0]


def test_the_digest_covers_the_statistics(tmp_path, calibrated_bundle):
    data = bytearray(calibrated_bundle.read_bytes())
    at = _tensor_offset(calibrated_bundle, ATYPICALITY_PREFIX + "mean")
    data[at] ^= 0x40
    bad = tmp_path / "tampered.ddbundle"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="digest mismatch"):
        read_bundle(bad)
    # the percentiles live in the runtime JSON: editing them (keeping the digest) is detected too
    from safetensors.numpy import save

    meta = read_metadata(calibrated_bundle)
    runtime = json.loads(meta["runtime"])
    runtime["atypicality"]["percentiles"] = [p * 10 for p in runtime["atypicality"]["percentiles"]]
    meta["runtime"] = json.dumps(runtime, sort_keys=True)
    bad.write_bytes(save(read_bundle(calibrated_bundle).tensors(), metadata=meta))
    with pytest.raises(BundleError, match="digest mismatch"):
        read_bundle(bad)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c: c.atypicality.pop("precision"), "need the tensors"),
        (lambda c: c.runtime.pop("atypicality"), "need the tensors"),
        (
            lambda c: c.atypicality.update(precision=np.zeros((3, 3), np.float32)),
            "precision: need finite float32",
        ),
        (
            lambda c: c.atypicality.update(mean=c.atypicality["mean"].astype(np.float64)),
            "mean: need finite float32",
        ),
        (lambda c: c.atypicality["mean"].__setitem__(0, np.nan), "mean: need finite"),
        (
            lambda c: c.runtime["atypicality"].update(percentiles=list(range(100, -1, -1))),
            "percentiles",
        ),
        (lambda c: c.runtime["atypicality"].update(percentiles=[1.0] * 100), "percentiles"),
        (lambda c: c.runtime["atypicality"].update(percentiles="x"), "percentiles"),
        (lambda c: c.runtime["atypicality"].update(percentiles=[[1.0]] * 101), "percentiles"),
    ],
)
def test_malformed_statistics_are_refused_at_load(tmp_path, calibrated_bundle, change, match):
    contents = read_bundle(calibrated_bundle)
    contents.atypicality = {k: v.copy() for k, v in contents.atypicality.items()}
    change(contents)
    path = tmp_path / "bad.ddbundle"
    write_bundle(path, contents)  # a valid digest: the content itself is wrong
    with pytest.raises(BundleError, match=f"atypicality statistics are malformed.*{match}"):
        load_bundle(path)


def test_a_graph_cannot_take_a_statistic_as_a_weight(calibrated_bundle):
    onnx = pytest.importorskip("onnx")  # edits the graph; the runtime install has no onnx

    contents = read_bundle(calibrated_bundle)
    card = read_header(calibrated_bundle).card
    model = onnx.load_from_string(contents.graphs["forward"])
    init = next(i for i in model.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL)
    name = ATYPICALITY_PREFIX + "mean"
    weights = {**contents.weights, name: np.zeros(tuple(init.dims), np.float32)}
    init.name = name
    with pytest.raises(BundleError, match="external data other than its weights"):
        check_graph(
            "forward", model.SerializeToString(), card, contents.runtime, weights, "x.ddbundle"
        )


def test_calibration_runs_without_torch(tmp_path, test_bundle, calibration_data):
    """``models --calibrate`` runs the ONNX graph: a runtime-only install (no torch) can use it."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'torchvision', 'facenet_pytorch', 'sklearn'):\n"
        "            raise ImportError(f'{name} is not installed')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from dysmorph_desk.cli import main\n"
        f"code = main(['models', '--calibrate', {str(test_bundle)!r}, '--data', "
        f"{str(calibration_data)!r}, '--out', {str(tmp_path / 'c.ddbundle')!r}])\n"
        "assert code == 0 and 'torch' not in sys.modules\n"
    )
    env = {**os.environ, "DYSMORPH_DESK_HOME": str(tmp_path / "home")}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, env=env)
    assert read_bundle(tmp_path / "c.ddbundle").atypicality
