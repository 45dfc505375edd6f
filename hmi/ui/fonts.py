"""The CJK font a bundle ships, made known to Qt.

A bundle carries Noto Sans CJK (SIL Open Font License) in ``resources/fonts/`` so that
Chinese renders on any PC, including a Windows machine without Chinese fonts or a
minimal Linux. :func:`register_bundled_fonts` adds those files to Qt's font database
(call it once after the QApplication exists, before the theme sets the UI font); in a
source checkout the folder is absent and the system's fonts are used.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics

from hmi import paths

log = logging.getLogger(__name__)

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
#: characters every station screen uses: a CJK font must have all of them
CJK_SAMPLE = "门站调压计量加臭报警确认压力流量温度"

_registered: dict[str, list[str]] = {}


def register_bundled_fonts(folder: Path | None = None) -> list[str]:
    """Add every font file of ``folder`` (default ``resources/fonts``) to Qt; the families added.

    Needs a QGuiApplication. Calling it again does not load the files twice.
    """
    folder = folder or paths.fonts_dir()
    families: list[str] = []
    if not folder.is_dir():
        return families
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FONT_SUFFIXES:
            continue
        key = str(path.resolve())
        if key not in _registered:
            font_id = QFontDatabase.addApplicationFont(key)
            if font_id < 0:
                log.warning("font %s could not be loaded", path.name)
                _registered[key] = []
                continue
            _registered[key] = list(QFontDatabase.applicationFontFamilies(font_id))
            log.debug("font %s: %s", path.name, ", ".join(_registered[key]))
        families += _registered[key]
    return families


def has_glyphs(family: str, text: str = CJK_SAMPLE) -> bool:
    """True when ``family`` exists and draws every character of ``text`` itself."""
    if family not in QFontDatabase.families():
        return False
    metrics = QFontMetrics(QFont(family))
    return all(metrics.inFontUcs4(ord(ch)) for ch in text)


def cjk_family(candidates: list[str] | None = None) -> str | None:
    """The first of ``candidates`` (default: the theme's UI families) that renders Chinese."""
    if candidates is None:
        from hmi.ui.theme import FONT_FAMILIES

        candidates = FONT_FAMILIES
    for family in candidates:
        if has_glyphs(family):
            return family
    return None
