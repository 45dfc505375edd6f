"""Regression guard: PySide6 6.12.0 on Python 3.11 drops a reference to None on every void Qt
call, and the process aborts (none_dealloc) after minutes of use. 6.11.x is fine."""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget


def test_void_qt_calls_do_not_leak_references_to_none(qapp):
    w = QWidget()
    o = QObject()
    before = sys.getrefcount(None)
    for i in range(50_000):
        w.setEnabled(i % 2 == 0)
        o.setObjectName("x")
    after = sys.getrefcount(None)
    w.deleteLater()
    # other code may take a few references meanwhile; a per-call drop would be ~100,000
    assert after >= before - 100, (
        f"PySide6 {PySide6.__version__}: None refcount fell by {before - after}"
    )


def test_pyside_version_is_pinned_below_6_12():
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12)
