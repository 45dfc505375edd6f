"""DESIGN.md layering: hmi.core, hmi.config and drivers never import Qt; drivers never import
hmi; hmi.core and hmi.config never import the user interface or the command line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "shiboken6", "qasync")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            # "from hmi import ui" imports hmi.ui
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _violations(folder: str, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for py in sorted((ROOT / folder).rglob("*.py")):
        seen: set[int] = set()
        for line, mod in _imports(py):
            if line not in seen and any(mod == b or mod.startswith(b + ".") for b in banned):
                seen.add(line)  # one violation per import statement
                bad.append(f"{py.relative_to(ROOT)}:{line}: imports {mod}")
    return bad


def test_core_config_drivers_are_qt_free():
    bad = _violations("hmi/core", QT) + _violations("hmi/config", QT) + _violations("drivers", QT)
    assert bad == []


def test_drivers_never_import_hmi():
    assert _violations("drivers", ("hmi",)) == []


def test_core_and_config_never_import_ui_or_cli():
    banned = ("hmi.ui", "hmi.cli")
    assert _violations("hmi/core", banned) == []
    assert _violations("hmi/config", banned) == []


def test_only_driver_folders_import_protocol_libraries():
    assert _violations("hmi", ("pymodbus", "asyncua", "snap7", "s7")) == []


def test_checker_sees_a_violation(tmp_path, monkeypatch):
    """The checker itself must be able to fail."""
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers" / "x.py").write_text("import PySide6.QtCore\nfrom hmi.core import y\n")
    import tests.unit.test_layering as me

    monkeypatch.setattr(me, "ROOT", tmp_path)
    assert len(me._violations("drivers", QT)) == 1
    assert len(me._violations("drivers", ("hmi",))) == 1
    (tmp_path / "hmi" / "core").mkdir(parents=True)
    (tmp_path / "hmi" / "core" / "x.py").write_text(
        "from hmi import ui\nimport hmi.cli.run\nfrom hmi.config import schema\nimport hmi.uix\n"
    )
    assert len(me._violations("hmi/core", ("hmi.ui", "hmi.cli"))) == 2
