"""The model manager: import (tampered bundles refused with the reason), cards, choosing models."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from dysmorph_desk.gui.engine import InProcessEngine
from dysmorph_desk.gui.model_manager import ModelManager
from dysmorph_desk.utils import paths

TIMEOUT = 30_000


def _manager(qtbot, dialogs, selected=()):
    engine = InProcessEngine()
    engine.start()
    manager = ModelManager(engine, dialogs, list(selected))
    qtbot.addWidget(manager)
    return engine, manager


def test_tampered_bundle_import_is_refused(qtbot, dialogs, test_bundle, tmp_path):
    tampered = tmp_path / "tampered.ddbundle"
    shutil.copy(test_bundle, tampered)
    data = bytearray(tampered.read_bytes())
    data[-100] ^= 0x55  # one byte of the weights
    tampered.write_bytes(bytes(data))
    engine, manager = _manager(qtbot, dialogs)
    with qtbot.waitSignal(engine.replied, timeout=TIMEOUT):
        assert manager.import_bundle(str(tampered)) is not None
    [(title, message, _details)] = dialogs.errors
    assert title == "Import refused" and "SHA-256 digest mismatch" in message
    assert (
        not list(paths.user_models_dir().glob("*.ddbundle"))
        if paths.user_models_dir().exists()
        else True
    )
    from dysmorph_desk.bundles.format import find_bundles

    shipped = find_bundles()  # the tampered bundle was not added to them
    assert manager.table.rowCount() == len(shipped) and "test-hybrid" not in {
        b.name for b in shipped
    }

    junk = tmp_path / "junk.ddbundle"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    assert manager.import_bundle(str(junk)) is None  # refused before the engine is asked
    assert "not a DysmorphDesk bundle" in dialogs.errors[-1][1]


def test_import_view_card_and_choose_models(qtbot, dialogs, test_bundle):
    engine, manager = _manager(qtbot, dialogs)
    dialogs.bundle_path = str(test_bundle)
    with qtbot.waitSignal(engine.replied, timeout=TIMEOUT):
        manager.import_bundle()
    assert not dialogs.errors
    assert (paths.user_models_dir() / "test-hybrid.ddbundle").exists()
    names = [manager.table.item(r, 1).text() for r in range(manager.table.rowCount())]
    assert "test-hybrid" in names
    row = names.index("test-hybrid")
    validation = manager.table.item(row, 4).text()
    assert "demonstration" in manager.table.item(row, 2).text()
    # the report's wording: every rate with its interval and n (unknown on this bare card)
    assert "Sensitivity 90.0% (95% CI unknown, n not recorded)" in validation
    assert "Specificity 80.0% (95% CI unknown, n not recorded)" in validation
    assert "AUC 0.900" in validation and "Interval unknown" in validation
    manager.table.selectRow(row)
    card = manager.view_card()
    assert card is not None and card.isVisible()
    for r in range(manager.table.rowCount()):  # run only the imported bundle
        state = Qt.CheckState.Checked if r == row else Qt.CheckState.Unchecked
        manager.table.item(r, 0).setCheckState(state)
    with qtbot.waitSignal(manager.selection_changed) as sig:
        manager.apply()
    assert sig.args == [["test-hybrid"]]
    # importing again asks before replacing
    dialogs.confirm_answer = False
    assert manager.import_bundle(str(test_bundle)) is None


def test_window_switches_models_through_the_manager(qtbot, window):
    manager = window.open_model_manager()
    assert manager.checked() == ["test-hybrid"]
    with qtbot.waitSignal(window.engine.replied, timeout=TIMEOUT):
        manager.apply()
    assert (
        window.models == ["test-hybrid"]
        and window.engine.configured.bundles[0].name == "test-hybrid"
    )
    manager.set_checked([])
    manager.apply()
    assert window.dialogs.errors[-1][1] == "Check at least one model."
