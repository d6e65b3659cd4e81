"""Training as separate processes: torchrun with two gloo processes; Ctrl+C and resuming."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with (
        socket.socket() as s
    ):  # loopback only: torchrun's rendezvous between the two local processes
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_train_one_run(tiny_synth, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "DYSMORPH_DESK_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "dysmorph_desk",
        "train",
        "--data",
        str(tiny_synth),
        "--arch",
        "mobilenetv2",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--out",
        str(run),
        "--name",
        "ddp",
        "--synthetic",
        "--bootstrap",
        "200",
        "--device",
        "cpu",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP with 2 processes" in proc.stderr
    assert proc.stdout.strip().splitlines() == [
        str(run / "ddp.ddbundle")
    ]  # one process prints, once
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["folds"]) == 2
    # only the first process reports: each epoch's summary line appears once, not once per process
    assert (
        proc.stderr.count("fold 1/2 epoch 1/1:") == 1 and proc.stderr.count("final epoch 1/1:") == 1
    )


def test_ctrl_c_exits_130_and_the_same_command_resumes(tiny_synth, tmp_path):
    import signal

    run = tmp_path / "run"
    env = {**os.environ, "DYSMORPH_DESK_HOME": str(tmp_path / "home")}
    cmd = [
        sys.executable,
        "-m",
        "dysmorph_desk",
        "train",
        "--data",
        str(tiny_synth),
        "--arch",
        "mobilenetv2",
        "--folds",
        "2",
        "--epochs",
        "3",
        "--patience",
        "3",
        "--out",
        str(run),
        "--no-bundle",
        "--bootstrap",
        "200",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # wait until the first epoch of fold 1 is checkpointed
        seen.append(line)
        if "fold 1/2 epoch 1/3:" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=300)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "run the same command again to resume" in rest
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming after epoch" in again.stderr
    m = json.loads((run / "metrics.json").read_text())
    assert [len(f["history"]) for f in m["folds"]] == [3, 3]
