"""Nothing leaves the machine: a full screening runs with the network switched off, and the package
source has no networking code (imports of network modules, download helpers, pretrained weights).

facenet-pytorch's MTCNN loads its weights from files inside its own wheel, and every architecture
is built with ``weights=None``; the runtime test proves both by failing any connection attempt.
"""

from __future__ import annotations

import ast
import json
import socket
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dysmorph_desk"

FORBIDDEN_MODULES = (
    "socket",
    "ssl",
    "requests",
    "httpx",
    "urllib3",
    "aiohttp",
    "ftplib",
    "smtplib",
    "websocket",
    "websockets",
    "http.client",
    "urllib.request",
    "xmlrpc.client",
    "torch.hub",
    "huggingface_hub",
)
FORBIDDEN_CALLS = {
    "urlopen",
    "urlretrieve",
    "load_state_dict_from_url",
    "create_connection",
    "getaddrinfo",
    "hf_hub_download",
    "snapshot_download",
}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a small shared machine: oversubscribed threads are very slow
    yield
    torch.set_num_threads(before)


def test_screening_never_touches_the_network(monkeypatch, tmp_path, test_bundle, portraits, capsys):
    from dysmorph_desk.cli import main

    calls: list[str] = []

    def blocked(name):
        def refuse(*args, **kwargs):
            calls.append(name)
            raise OSError(f"network disabled in this test ({name})")

        return refuse

    monkeypatch.setattr(socket.socket, "connect", blocked("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", blocked("socket.connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", blocked("socket.sendto"))
    monkeypatch.setattr(socket, "create_connection", blocked("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", blocked("socket.getaddrinfo"))
    # an empty torch/hub cache: a weight file "already downloaded" earlier would not count as offline
    torch_home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))

    out_json, out_pdf = tmp_path / "r.json", tmp_path / "r.pdf"
    code = main(
        [
            "screen",
            str(portraits["grace_hopper"]),
            "--model",
            str(test_bundle),
            "--age",
            "30",
            "--json",
            str(out_json),
            "--report",
            str(out_pdf),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert calls == []
    data = json.loads(out_json.read_text(encoding="utf-8"))["photos"][0]
    assert data["faces_detected"] == 1 and data["results"][0]["assessable"] is True
    assert data["results"][0]["cam_method"] == "gradcam"
    assert out_pdf.read_bytes().startswith(b"%PDF")
    assert not torch_home.exists()  # torch.hub never looked for (downloaded) weights


def test_the_patch_would_catch_a_connection(monkeypatch):
    """Guard for the test above: the patched functions really are the ones a client goes through."""
    import urllib.request

    calls: list[str] = []

    def refuse(*args, **kwargs):
        calls.append("getaddrinfo")
        raise OSError("network disabled")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    with pytest.raises(OSError):
        urllib.request.urlopen("http://example.invalid/", timeout=1)
    assert calls


# --- static check of the package source ---------------------------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)


def network_code(source: str, filename: str = "<src>") -> list[str]:
    """Imports of network modules and download-style calls found in ``source`` (code only:
    comments, docstrings and other strings are not looked at)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if _forbidden_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(_forbidden_module(n) for n in names):
                found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and _forbidden_module(_dotted(node)):
            found.append(f"{where} uses {_dotted(node)}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if "download" in last.lower() or last in FORBIDDEN_CALLS:
                found.append(f"{where} calls {name}")
            if last in {"import_module", "__import__"} and node.args:
                arg = node.args[0]
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and _forbidden_module(arg.value)
                ):
                    found.append(f"{where} imports {arg.value} dynamically")
            for kw in node.keywords:
                value = kw.value
                if kw.arg == "download" and not (
                    isinstance(value, ast.Constant) and value.value is False
                ):
                    found.append(f"{where} {name}(download=...)")
                if kw.arg == "pretrained" and not (
                    isinstance(value, ast.Constant) and not value.value
                ):
                    found.append(f"{where} {name}(pretrained=...)")
                if (
                    kw.arg == "weights"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.append(f"{where} {name}(weights={value.value!r})")
                if (
                    kw.arg == "weights"
                    and isinstance(value, ast.Attribute)
                    and _dotted(value).endswith(("DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"))
                ):
                    found.append(f"{where} {name}(weights={_dotted(value)})")
    return found


def test_scanner_finds_network_code():
    snippet = '''
"""Docstrings may say socket, requests, urllib.request and download freely."""
import socket
import urllib.request as ur
from http.client import HTTPSConnection
from torch.hub import load_state_dict_from_url
import requests.adapters
import torchvision
import importlib
ur.urlopen("http://x")
torch.hub.load("a", "b")
fetch_and_download_weights()
importlib.import_module("requests")
torchvision.models.resnet18(weights="IMAGENET1K_V1")
torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
MTCNN(pretrained=True)
torchvision.datasets.MNIST("x", download=True)
'''
    found = "\n".join(network_code(snippet))
    for expected in (
        "import socket",
        "import urllib.request",
        "from http.client",
        "from torch.hub",
        "import requests.adapters",
        "calls ur.urlopen",
        "uses torch.hub",
        "fetch_and_download_weights",
        "imports requests dynamically",
        "weights='IMAGENET1K_V1'",
        "ResNet18_Weights.DEFAULT",
        "pretrained=",
        "download=",
    ):
        assert expected in found, expected
    harmless = """
# import socket; requests.get(url); download the weights
LOG_NAMES = ("urllib3", "requests")
import urllib.parse
model = tvm.resnet18(weights=None)
MTCNN(keep_all=True, pretrained=False)
"""
    assert network_code(harmless) == []


def test_package_source_has_no_network_code():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    found = []
    for path in files:
        found += network_code(
            path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent))
        )
    assert found == [], "\n".join(found)
