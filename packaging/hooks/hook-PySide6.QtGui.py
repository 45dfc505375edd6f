"""PyInstaller's own hook for PySide6.QtGui, minus the Qt files gas-hmi does not ship (qt_filter.py)."""

from PyInstaller.utils.hooks.qt import add_qt6_dependencies
from qt_filter import keep

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [b for b in binaries if keep(b[0])]
datas = [d for d in datas if keep(d[0])]
