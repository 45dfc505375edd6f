"""Every UI text has a Chinese translation; switching language at runtime changes texts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hmi import paths

_TEXT = re.compile(r"""\b(?:tr|N_)\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def _source_texts() -> set[str]:
    root = Path(__file__).resolve().parents[2] / "hmi" / "ui"
    out: set[str] = set()
    for p in root.rglob("*.py"):
        for m in _TEXT.finditer(p.read_text(encoding="utf-8")):
            out.add(m.group(1) or m.group(2))
    return out - {"..."}


def test_every_ui_text_has_a_chinese_entry():
    zh = yaml.safe_load((paths.resources_dir() / "i18n" / "zh_CN.yaml").read_text(encoding="utf-8"))
    texts = _source_texts()
    assert len(texts) > 150
    missing = sorted(t for t in texts if not zh.get(t))
    assert not missing, f"untranslated: {missing}"
    for src, dst in zh.items():
        assert set(re.findall(r"{\w+}", src)) == set(re.findall(r"{\w+}", dst)), src


def test_no_format_string_is_passed_to_tr():
    root = Path(__file__).resolve().parents[2] / "hmi" / "ui"
    offenders = [
        p.name
        for p in root.rglob("*.py")
        if re.search(r"\btr\(\s*f[\"']", p.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_language_switch_changes_texts(window):
    from hmi.ui.i18n import i18n

    assert window.header.nav["overview"].text() == "Overview"
    assert window.banner.ack.text() == "Acknowledge"
    window.navigate("pid")
    view = window.pid.current_view()
    before = view.screen.doc.background(set(), "", "", view._texts())
    window.toggle_language()
    try:
        assert i18n().lang == "zh_CN"
        assert window.header.nav["overview"].text() == "总貌"
        assert window.banner.ack.text() == "确认"
        assert window.alarms.tabs.tabText(0) == "活动报警"
        assert window.header.station.text() == "演示门站"
        after = view.screen.doc.background(set(), "", "", view._texts())
        assert "门站工艺流程".encode() in after and "门站工艺流程".encode() not in before
        item = view.item_for("V_esd_remote")
        assert item.text in ("远程", "就地")  # state text from the tag's states, in Chinese
    finally:
        window.toggle_language()
    assert window.header.nav["overview"].text() == "Overview"


def test_chinese_glyphs_render(hmi_app):
    """A CJK font is found: Chinese text is not drawn as empty boxes."""
    from PySide6.QtGui import QFont, QFontMetrics, QRawFont

    font = QFont()
    fm = QFontMetrics(font)
    assert all(fm.inFontUcs4(ord(c)) for c in "门站工艺流程报警确认")
    raw = QRawFont.fromFont(font)
    assert raw.isValid()


def test_every_area_id_of_the_station_configs_has_a_chinese_name():
    """The alarm list, faceplate and dispatch station page show area ids translated."""
    from hmi.config.loader import load_station
    from hmi.ui.dispatch.fmt import area_text
    from hmi.ui.i18n import i18n

    i18n().set_language("zh_CN")
    try:
        for station in sorted(paths.station_configs_dir().glob("*/station.yaml")):
            cfg = load_station(station.parent)
            areas = {t.area for t in cfg.tags if t.area} | {d.area for d in cfg.devices if d.area}
            missing = sorted(
                a for a in areas if not any("\u4e00" <= ch <= "\u9fff" for ch in area_text(a))
            )
            assert not missing, f"{station.parent.name}: area ids without a zh_CN entry: {missing}"
    finally:
        i18n().set_language("en")
