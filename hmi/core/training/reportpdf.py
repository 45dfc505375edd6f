"""The drill report as a bilingual A4 PDF, drawn with the daily report's PDF blocks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hmi.core.analytics.reportfile import find_cjk_font
from hmi.core.analytics.reportpdf import _Pdf, _save
from hmi.core.training.report import fmt_seconds


def _when(ts: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def write_drill_pdf(report: dict[str, Any], path: Path, lang: str = "zh_CN") -> None:
    """Render a drill report (:func:`hmi.core.training.report.build_report`) to ``path``."""
    d = report["drill"]
    st = report.get("station") or {"id": d["station"], "name": {}, "timezone": "UTC"}
    tz = st.get("timezone") or "UTC"
    doc = _Pdf(find_cjk_font(), f"gas-hmi · {st['id']} · 培训 TRAINING · {d['drill_id']}")
    p = doc.pdf
    p.set_font("cjk", size=15)
    p.set_fill_color(255, 214, 0)
    p.cell(0, 9, "培训演练报告  TRAINING DRILL REPORT — 非实时数据 not live data", fill=True,
           new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    names = st.get("name") or {}
    name = " ".join(
        x for x in ((names.get("zh"), names.get("en")) if lang.startswith("zh") else
                    (names.get("en"), names.get("zh"))) if x
    )  # fmt: skip
    doc.line(f"{name}  ({st['id']})", 10)
    desc = d["description_zh"] if lang.startswith("zh") else d["description_en"]
    doc.line(f"场景 Scenario: {d['scenario']} — {desc or d['description_en']}", 9)
    doc.line(
        f"教员 Instructor: {d['instructor']}    值班操作员 Operator on shift: {d['operator'] or '—'}"
        f"    仿真倍速 Simulator speed: ×{d['speed']:g}",
        9,
    )
    doc.line(
        f"开始 Start: {_when(d['started_at'], tz)}    结束 End: {_when(report['ended_at'], tz)}"
        f"    时长 Duration: {fmt_seconds(report['duration_s'])}    ({tz})",
        9,
    )
    _summary(doc, report)
    _alarms(doc, report, lang)
    _actions(doc, report)
    _save(doc, path)


def _summary(doc: _Pdf, report: dict[str, Any]) -> None:
    s = report["summary"]
    doc.heading("结果  Results", 10.5)
    tta = s["time_to_ack_s"]
    doc.line(
        f"报警 Alarms raised: {s['alarms_raised']}    已确认 Acknowledged: {s['acknowledged']}"
        f"    未确认 Not acknowledged: {s['unacknowledged']}",
        9,
    )
    doc.line(
        f"确认用时 Time to acknowledge — 平均 mean {fmt_seconds(tta['mean'])}, 最长 max "
        f"{fmt_seconds(tta['max'])}    首次确认 First acknowledgement: {fmt_seconds(s['first_ack_s'])}"
        f"    首次操作 First action: {fmt_seconds(s['first_action_s'])}",
        9,
    )
    if report.get("missed") is None:
        doc.line("场景未声明预期报警 The scenario declares no expected alarms", 8.5)
        return
    missed = ", ".join(report["missed"]) or "—"
    unexpected = ", ".join(report["unexpected"] or []) or "—"
    doc.line(f"预期但未出现 Expected, never raised: {missed}", 8.5)
    doc.line(f"出现但未预期 Raised, not expected: {unexpected}", 8.5)


def _alarms(doc: _Pdf, report: dict[str, Any], lang: str) -> None:
    doc.heading("报警与确认  Alarms and acknowledgements", 10.5)
    if not report["alarms"]:
        doc.line("演练期间无报警 No alarm was raised during the drill", 8.5)
        return
    rows = [["报警 Alarm", "优先级 Prio", "出现 Raised", "确认 Acked", "用时 To ack",
             "确认人 By", "说明 Message"]]  # fmt: skip
    for a in report["alarms"]:
        msg = a["message"].get("zh" if lang.startswith("zh") else "en", "")
        rows.append(
            [
                a["alarm_id"] + ("" if a["expected"] is not False else " *"),
                str(a["priority"]),
                fmt_seconds(a["raised_s"]),
                fmt_seconds(a["acked_s"]),
                fmt_seconds(a["time_to_ack_s"]),
                a["ack_user"] or "—",
                msg,
            ]
        )
    doc.table(rows, (40, 14, 18, 18, 18, 18, 60), size=6.8, align="LEFT", line_height=3.6)
    if report.get("unexpected"):
        doc.line("* 未预期的报警 not expected by the scenario", 7.5)


def _actions(doc: _Pdf, report: dict[str, Any]) -> None:
    doc.heading("操作员操作  Operator actions", 10.5)
    if not report["actions"]:
        doc.line("演练期间无操作 No operator action during the drill", 8.5)
        return
    rows = [["时间 Time", "用户 User", "操作 Action", "对象 Target", "值 Value", "结果 Result"]]
    for a in report["actions"]:
        value = "" if a["value"] is None else str(a["value"])
        rows.append(
            [fmt_seconds(a["t_s"]), a["user"], a["action"], a["target"], value, a["result"]]
        )
    doc.table(rows, (20, 24, 24, 60, 26, 32), size=6.8, align="LEFT", line_height=3.6)
