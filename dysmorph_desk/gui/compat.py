"""Work-arounds for bugs in the Qt bindings.

PySide6/shiboken6 6.12.0 on CPython 3.11 drop a reference to a singleton each time one is
returned to Python: ``None`` from every C++ method returning void (``QLabel.setText``,
``QPainter.drawRect``...) and ``True``/``False`` from every ``Signal.emit``. 6.11.3 does not. On
3.12+ these objects are immortal and nothing happens; on 3.11 a count reaches zero after some ten
thousand calls and the interpreter aborts ("none_dealloc" / "bool_dealloc") — the live camera
preview gets there in under a minute. ``protect_singletons()`` measures the leak once and, only
if it is there, raises the reference counts of None, True and False so far that they can never
reach zero. (The real fix is bindings without the bug; see the constraints.)
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)
_BUMP = 1 << 40  # ~1e12 lost references: years of continuous use
_SINGLETONS = (None, True, False)
_done = False


def singleton_leak_per_call(calls: int = 200) -> float:
    """References to None and True lost per void call plus signal emit (0 with sound bindings)."""
    from PySide6.QtCore import QObject, QRect, Signal

    class _Probe(QObject):
        ping = Signal()

    rect, probe = QRect(), _Probe()
    before = sys.getrefcount(None) + sys.getrefcount(True) + sys.getrefcount(False)
    for _ in range(calls):
        rect.setWidth(1)
        probe.ping.emit()
    after = sys.getrefcount(None) + sys.getrefcount(True) + sys.getrefcount(False)
    return (before - after) / calls


def protect_singletons() -> bool:
    """Apply the work-around if these bindings need it; True when it was applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _done = True
    if singleton_leak_per_call() < 0.5:
        return False
    for obj in _SINGLETONS:
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt: the first field of PyObject
        refcnt.value += _BUMP
    log.info(
        "the Qt bindings leak references to None/True/False (PySide6 6.12 on Python 3.11); worked around"
    )
    return True


protect_singletons()  # on import: every Qt module of the app imports this module first
