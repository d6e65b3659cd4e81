"""Finding, resolving and installing bundles; garbage files are refused, never crash (no torch)."""

from __future__ import annotations

import pytest

from dysmorph_desk.bundles.container import read_bundle, write_bundle
from dysmorph_desk.bundles.format import (
    BUNDLE_SUFFIX,
    find_bundles,
    install_bundle,
    read_header,
    resolve_bundle,
)
from dysmorph_desk.errors import BundleError


def _named(tmp_path, name: str):
    contents = read_bundle(resolve_bundle("demo-mobilenetv2").path)
    contents.manifest["name"] = name
    contents.signature = ""  # a renamed copy is no longer what the demo key signed
    path = tmp_path / f"{name}{BUNDLE_SUFFIX}"
    write_bundle(path, contents)
    return path


def test_shipped_bundles_are_format_2():
    infos = {i.name: i for i in find_bundles()}
    assert {"demo-hybrid", "demo-mobilenetv2", "demo-resnet18"} <= set(infos)
    assert all(i.format_version == "2" and i.source == "shipped" for i in infos.values())


def test_user_folder_discovery_and_install(tmp_path):
    src = _named(tmp_path, "my-model")
    installed = install_bundle(src)
    assert installed.source == "user"
    names = {i.name: i for i in find_bundles()}
    assert "my-model" in names and names["my-model"].source == "user"
    assert resolve_bundle("my-model").path == installed.path
    assert resolve_bundle(str(src)).name == "my-model"
    with pytest.raises(BundleError, match="no bundle named"):
        resolve_bundle("nope")


def test_install_refuses_a_tampered_bundle_and_copies_nothing(tmp_path):
    src = _named(tmp_path, "evil")
    raw = bytearray(src.read_bytes())
    raw[-5] ^= 0x01
    src.write_bytes(bytes(raw))
    with pytest.raises(BundleError):
        install_bundle(src)
    assert "evil" not in {i.name for i in find_bundles()}


@pytest.mark.parametrize(
    "content", [b"", b"hello", b"\x10\x00\x00\x00\x00\x00\x00\x00{}", b"\xff" * 64]
)
def test_garbage_files_are_refused(tmp_path, content):
    p = tmp_path / "bad.ddbundle"
    p.write_bytes(content)
    with pytest.raises(BundleError, match="not a DysmorphDesk bundle"):
        read_header(p)
