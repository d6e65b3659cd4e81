"""Which bundles a screening uses: ``bundles.format.select_bundles`` (headers only)."""

from __future__ import annotations

import pytest

from dysmorph_desk.bundles import format as bundle_format
from dysmorph_desk.bundles.format import find_bundles, select_bundles
from dysmorph_desk.errors import BundleError, UsageError


def test_all_is_every_bundle_found_in_order():
    assert [i.name for i in select_bundles(["all"])] == [i.name for i in find_bundles()]
    assert [i.name for i in select_bundles(["demo-hybrid", "all"])] == [
        i.name for i in find_bundles()
    ]


def test_names_in_the_given_order_each_once():
    chosen = select_bundles(["demo-mobilenetv2", "demo-hybrid", "demo-mobilenetv2"])
    assert [i.name for i in chosen] == ["demo-mobilenetv2", "demo-hybrid"]


def test_a_path_is_read_as_a_file(tmp_path):
    shipped = next(i for i in find_bundles() if i.name == "demo-hybrid")
    (info,) = select_bundles([str(shipped.path)])
    assert info.name == "demo-hybrid"
    with pytest.raises(BundleError, match="bundle not found"):
        select_bundles([str(tmp_path / "missing.ddbundle")])


def test_an_unknown_name_lists_what_is_installed():
    with pytest.raises(BundleError, match=r"no bundle named 'nope' \(available: .*demo-hybrid"):
        select_bundles(["nope"])


def test_all_with_nothing_installed_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setattr(bundle_format, "bundle_dirs", lambda: [("shipped", tmp_path)])
    with pytest.raises(UsageError, match="no model bundles are installed"):
        select_bundles(["all"])
