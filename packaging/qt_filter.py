"""Which Qt files a gas-hmi bundle keeps (used by gas-hmi.spec and hooks/).

The HMI needs QtCore, QtGui, QtWidgets and QtSvg. Every other Qt library, plugin folder
and translation is dropped — also before PyInstaller resolves their dependencies, so
that e.g. the GTK platform theme does not drag GTK, cairo and pango along.
"""

from __future__ import annotations

from pathlib import Path

# platforms: offscreen (headless checks, CI), minimal, xcb (X11 and XWayland desktops),
# windows; imageformats/iconengines: SVG symbols and icons; platforminputcontexts: Chinese
# input methods (ibus; fcitx5 through compose); xcbglintegrations: GL on X11. No
# platformthemes: the HMI styles its own widgets with QSS.
KEEP_PLUGIN_DIRS = {
    "platforms",
    "imageformats",
    "iconengines",
    "platforminputcontexts",
    "xcbglintegrations",
    "styles",
}
KEEP_PLATFORMS = {"offscreen", "minimal", "xcb", "windows"}
KEEP_IMAGEFORMATS = {"svg", "ico", "png"}
# Qt shared libraries that only dropped modules and plugins need
DROP_QT_LIBS = (
    "Qt6Quick",
    "Qt6Qml",
    "Qt6Pdf",
    "Qt6Network",
    "Qt6VirtualKeyboard",
    "Qt6Wayland",
    "Qt6Wl",
    "Qt6EglFS",
    "Qt6EglFs",
    "Qt6Test",
    "Qt6Designer",
    "Qt6Sql",
    "Qt6Help",
    "Qt6Xml",
    "Qt6PrintSupport",
    "Qt6Concurrent",
    "Qt6ShaderTools",
    "Qt6SvgWidgets",
)


def dropped_lib(name: str) -> bool:
    """A Qt library the bundle does not need (by file name)."""
    base = name.removeprefix("lib")
    return any(base.startswith(lib) for lib in DROP_QT_LIBS)


def keep(dest: str) -> bool:
    """True when the bundle keeps the file collected to ``dest`` (or from that source path)."""
    parts = Path(dest).as_posix().split("/")
    name = parts[-1]
    if dropped_lib(name):  # wherever it sits (PyInstaller also links Qt libs at the top level)
        return False
    if "PySide6" not in parts:
        return True
    rest = parts[parts.index("PySide6") + 1 :]
    if "plugins" in rest:
        sub = rest[rest.index("plugins") + 1 :]
        if not sub or sub[0] not in KEEP_PLUGIN_DIRS:
            return False
        stem = name.split(".")[0].removeprefix("lib").removeprefix("q")
        if sub[0] == "platforms":
            return stem in KEEP_PLATFORMS
        if sub[0] == "imageformats":
            return stem in KEEP_IMAGEFORMATS
        return True
    if "translations" in rest:
        # Qt's own dialogs in the HMI's two languages only
        return name.startswith(("qtbase_zh_CN", "qtbase_en"))
    return True
