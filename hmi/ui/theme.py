"""Themes: one QSS file per theme styles the widgets *and* carries the colors that
painted items (mimic overlays, alarm glyphs, trends) use.

The colors live in the QSS as ``ThemeColors { qproperty-alarm1: #d61f1f; ... }`` so that a
theme is one file an engineer can edit. :class:`ThemeColors` is a hidden widget whose
properties Qt fills in when it polishes it. State styling everywhere else uses dynamic
properties (``[quality="bad"]``, ``[alarm="1"]``) and :func:`restyle`, never per-widget
``setStyleSheet`` calls. The SVG mimic screens get ``<theme>.svg.css`` injected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Property, QObject, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from hmi import paths

log = logging.getLogger(__name__)

THEMES = ("light", "dark")
#: UI font families, first match wins per glyph (Latin and CJK must both render)
FONT_FAMILIES = [
    "Noto Sans CJK SC",
    "Microsoft YaHei UI",
    "Microsoft YaHei",
    "PingFang SC",
    "DejaVu Sans",
    "Sans Serif",
]

_COLOR_NAMES = (
    "background",
    "panel",
    "text",
    "textDim",
    "value",
    "border",
    "pipe",
    "pipeIdle",
    "equipment",
    "equipmentLine",
    "barTrack",
    "barNormal",
    "barAlarm",
    "barPointer",
    "alarm1",
    "alarm2",
    "alarm3",
    "alarm4",
    "alarmText",
    "bad",
    "uncertain",
    "selection",
    "trendBg",
    "trendPen1",
    "trendPen2",
    "trendPen3",
    "trendPen4",
    "trendPen5",
    "trendPen6",
    "limit",
)


def _getter(name: str) -> Callable[[Any], QColor]:
    return lambda self: self._colors.get(name, QColor("#808080"))


def _setter(name: str) -> Callable[[Any, QColor], None]:
    def set_(self: _ThemeColorsBase, value: QColor) -> None:
        self._colors[name] = QColor(value)

    return set_


class _ThemeColorsBase(QWidget):
    """Hidden widget whose ``qproperty-*`` values the theme's QSS sets (see ThemeColors)."""

    def __init__(self) -> None:
        self._colors: dict[str, QColor] = {}
        super().__init__()
        self.setObjectName("themeColors")

    def color(self, name: str) -> QColor:
        """A theme color by name (gray when the theme does not define it)."""
        return QColor(self._colors.get(name, QColor("#808080")))

    def alarm(self, priority: int) -> QColor:
        """Color of an alarm priority 1-4."""
        return self.color(f"alarm{min(max(int(priority), 1), 4)}")

    def pens(self) -> list[QColor]:
        """Trend pen colors, in order."""
        return [self.color(f"trendPen{i}") for i in range(1, 7)]


# Qt registers properties only when the class is created, so build it with them.
ThemeColors = type(
    "ThemeColors",
    (_ThemeColorsBase,),
    {
        "__doc__": "Theme colors set by the QSS (one Qt property per color name).",
        **{n: Property(QColor, _getter(n), _setter(n)) for n in _COLOR_NAMES},
    },
)


def restyle(widget: QWidget, **props: object) -> None:
    """Set dynamic properties and re-apply the style sheet only when one changed."""
    changed = False
    for key, value in props.items():
        if widget.property(key) != value:
            widget.setProperty(key, value)
            changed = True
    if changed:
        style = widget.style()
        style.unpolish(widget)
        style.polish(widget)
        widget.update()


class ThemeManager(QObject):
    """Loads a theme's QSS into the application and exposes its colors."""

    sigThemeChanged = Signal(str)

    def __init__(self, app: QApplication, theme: str = "light", folder: Path | None = None) -> None:
        super().__init__()
        self.app = app
        self.folder = folder or paths.resources_dir() / "themes"
        self.name = ""
        self.colors: Any = ThemeColors()
        self.svg_css = ""
        font = QFont()
        font.setFamilies(FONT_FAMILIES)
        font.setPointSizeF(10.0)
        font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
        QGuiApplication.setFont(font)
        self.set_theme(theme)

    def set_theme(self, name: str) -> None:
        """Apply ``light`` or ``dark``; emits sigThemeChanged."""
        if name not in THEMES:
            log.warning("unknown theme %r, using light", name)
            name = "light"
        if name == self.name:
            return
        icons = (paths.resources_dir() / "icons").as_posix()
        qss = self._read(f"{name}.qss").replace("@ICONS@", icons)  # QSS url() needs absolute paths
        self.svg_css = self._read(f"{name}.svg.css")
        self.app.setStyleSheet(qss)
        self.name = name
        # re-polish the color holder so its qproperty values follow the new sheet
        self.colors.style().unpolish(self.colors)
        self.colors.style().polish(self.colors)
        self.colors.ensurePolished()
        log.info("theme: %s", name)
        self.sigThemeChanged.emit(name)

    def _read(self, file: str) -> str:
        path = self.folder / file
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            log.error("theme file %s is unreadable: %s", path, exc)
            return ""


_manager: ThemeManager | None = None


def theme() -> ThemeManager:
    """The application's theme manager (created by :func:`install`)."""
    if _manager is None:
        raise RuntimeError("theme not installed: call hmi.ui.theme.install(app) first")
    return _manager


def install(app: QApplication, name: str = "light") -> ThemeManager:
    """Create (once) and return the theme manager; applies ``name``."""
    global _manager
    if _manager is None:
        _manager = ThemeManager(app, name)
    else:
        _manager.set_theme(name)
    return _manager


def svg_defs() -> str:
    """SVG <defs> content the mimic screens need in the current theme's colors.

    Qt's SVG renderer does not apply CSS inside <pattern>, so the hatch of a symbol
    with BAD inputs (``fill: url(#hmi-hatch-bad)`` in the theme CSS) is built here.
    """
    c = colors()
    bad, bg = c.color("bad").name(), c.color("panel").name()
    return (
        '<pattern id="hmi-hatch-bad" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{bg}"/><path d="M-1,1 L1,-1 M0,6 L6,0 M5,7 L7,5" stroke="{bad}" stroke-width="1.2"/>'
        "</pattern>"
    )


def colors() -> Any:
    """Current theme colors."""
    return theme().colors
