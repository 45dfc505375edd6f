"""The daily metering report as an A4 PDF (fpdf2, bilingual Chinese/English, CJK font embedded)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hmi.core.analytics.reportfile import ReportError, find_cjk_font

_GREY = (235, 235, 235)
_DARK = (60, 60, 60)


def _f(v: Any, nd: int = 0, dash: str = "—") -> str:
    if v is None:
        return dash
    return f"{v:,.{nd}f}"


class _Pdf:
    """Thin helper around FPDF for the report's blocks."""

    def __init__(self, font: tuple[str, int], footer: str) -> None:
        from fpdf import FPDF

        outer = self

        class Doc(FPDF):
            def footer(self) -> None:  # noqa: D102 - fpdf2 hook
                self.set_y(-12)
                self.set_font("cjk", size=7)
                self.set_text_color(*_DARK)
                self.cell(0, 5, f"{outer.footer}    {self.page_no()}/{{nb}}", align="C")

        self.footer = footer
        self.pdf = Doc(orientation="P", unit="mm", format="A4")
        self.pdf.set_margins(12, 10, 12)
        self.pdf.set_auto_page_break(True, margin=14)
        try:
            self.pdf.add_font("cjk", "", font[0], collection_font_number=font[1])
        except Exception as exc:  # fontTools raises many kinds for a broken file
            raise ReportError(f"cannot use font {font[0]}: {exc}") from None
        self.pdf.alias_nb_pages()
        self.pdf.add_page()
        self.pdf.set_font("cjk", size=9)

    def heading(self, text: str, size: float = 11) -> None:
        p = self.pdf
        p.ln(1.5)
        p.set_font("cjk", size=size)
        p.set_fill_color(*_GREY)
        p.cell(0, 6, text, fill=True, new_x="LMARGIN", new_y="NEXT")
        p.set_font("cjk", size=8.5)
        p.ln(0.8)

    def line(self, text: str, size: float = 8.5, h: float = 5) -> None:
        self.pdf.set_font("cjk", size=size)
        self.pdf.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT")

    def table(
        self,
        rows: list[list[str]],
        widths: tuple[float, ...],
        size: float = 7.5,
        align: str = "RIGHT",
        line_height: float = 4.0,
    ) -> None:
        p = self.pdf
        p.set_font("cjk", size=size)
        with p.table(
            col_widths=widths,
            text_align=tuple(["LEFT"] + [align] * (len(widths) - 1)),
            line_height=line_height,
            first_row_as_headings=True,
            headings_style=_headings(),
            padding=(0.6, 1.0),
        ) as t:
            for r in rows:
                row = t.row()
                for cell in r:
                    row.cell(cell)


def _headings() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(family="cjk", emphasis="NONE", fill_color=_GREY, size_pt=7.5)


def _trio(s: dict[str, Any] | None, nd: int) -> str:
    """min / avg / max of a statistics dict ('—' when there is none)."""
    if not s:
        return "—"
    return f"{_f(s.get('min'), nd)} / {_f(s.get('avg'), nd)} / {_f(s.get('max'), nd)}"


def write_pdf(report: dict[str, Any], path: Path, lang: str = "zh_CN") -> None:
    """Render ``report`` to the PDF file ``path`` (atomically)."""
    doc = _title(report, lang)
    _summary(doc, report)
    _meters(doc, report, lang)
    _hours(doc, report)
    _alarms(doc, report, lang)
    _save(doc, path)


def _title(report: dict[str, Any], lang: str) -> _Pdf:
    """A new document with the station, the date, the base conditions and the gas day."""
    font = find_cjk_font()
    st = report["station"]
    name = (
        f"{st['name']['zh']}  {st['name']['en']}"
        if lang.startswith("zh")
        else f"{st['name']['en']}  {st['name']['zh']}"
    )
    tz = ZoneInfo(st["timezone"])
    generated = dt.datetime.fromtimestamp(report["generated"], tz).strftime("%Y-%m-%d %H:%M")
    doc = _Pdf(font, f"gas-hmi · {st['id']} · {report['date']} · 生成 generated {generated}")
    p = doc.pdf

    p.set_font("cjk", size=15)
    p.cell(0, 8, name, new_x="LMARGIN", new_y="NEXT")
    p.set_font("cjk", size=12)
    p.cell(
        0,
        7,
        f"燃气计量日报  Daily metering report   {report['date']}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    info = " · ".join(
        x for x in (st.get("company", ""), st.get("location", ""), st["timezone"]) if x
    )
    doc.line(info, 8.5)
    base = report.get("base_conditions") or {}
    state = (
        "完整 complete"
        if report["complete"]
        else "不完整 incomplete (day not over or data missing)"
    )
    doc.line(
        f"标准参比条件 Base conditions: {base.get('pressure_kpa', 101.325)} kPa, "
        f"{base.get('temperature_c', 20)} °C — 体积单位 Sm³ = m³ (20 °C, 101.325 kPa)，"
        f"非0 °C的Nm³ (not 0 °C Nm³)    数据 Data: {state}",
        8.5,
    )
    gd = report.get("gas_day") or {}
    if gd:
        doc.line(
            f"燃气日 Gas day: {gd['from'][:16].replace('T', ' ')} — {gd['to'][:16].replace('T', ' ')}"
            f"  (日起始 day starts {gd['start']}; 按08:00计日的合同请设 gas_day_start: 08:00)",
            8.5,
        )
    return doc


def _summary(doc: _Pdf, report: dict[str, Any]) -> None:
    """Day summary: send-out, energy, calorific value, peak hour, ambient, forecast error."""
    doc.heading("日汇总  Day summary", 10.5)
    peak = report.get("peak_hour") or {}
    amb = report.get("ambient") or {}
    summary = [
        ["项目 Item", "数值 Value"],
        ["全站供气量 Station send-out (Sm³)", _f(report.get("station_volume"))],
        ["全站能量 Station energy (GJ)", _f(report.get("station_energy"))],
        [
            "高位发热量 Superior calorific value (MJ/Sm³) min / avg / max",
            _trio(report.get("calorific_value"), 2),
        ],
        [
            "高峰小时 Peak hour",
            f"{peak.get('label', '—')}  {_f(peak.get('volume'))} Sm³" if peak else "—",
        ],
        [
            "环境温度 Ambient (°C) min / avg / max",
            f"{_f(amb.get('min'), 1)} / {_f(amb.get('avg'), 1)} / {_f(amb.get('max'), 1)}"
            if amb
            else "—",
        ],
    ]
    fc = report.get("forecast") or {}
    if fc:
        summary.append(
            [
                "预测误差 Forecast MAPE (day-ahead, 7 d)",
                f"{_f(fc.get('mape'), 1)} %  (基准 baseline {_f(fc.get('baseline_mape'), 1)} %)",
            ]
        )
        if fc.get("next_24h") is not None:
            summary.append(["未来24小时预测 Forecast, next 24 h (Sm³)", _f(fc.get("next_24h"))])
    doc.table(summary, (95, 91), line_height=3.8)


def _meters(doc: _Pdf, report: dict[str, Any], lang: str) -> None:
    """One row per metering run."""
    doc.heading("计量路汇总  Metering runs", 10.5)
    rows = [
        [
            "计量路 Run",
            "体积 Volume Sm³",
            "能量 Energy GJ",
            "表底起 Total start",
            "表底止 Total end",
            "翻转 Roll-over",
            "流量 Flow Sm³/h min/avg/max",
            "压力 MPa min/avg/max",
            "温度 °C min/avg/max",
        ]
    ]
    for m in report["meters"]:
        label = m["label"]["zh"] if lang.startswith("zh") else m["label"]["en"]

        trio = _trio

        rows.append(
            [
                label,
                _f(m["volume"]),
                _f(m.get("energy")),
                _f(m["total_start"]),
                _f(m["total_end"]),
                str(m["rollovers"]),
                trio(m.get("flow"), 0),
                trio(m.get("pressure"), 3),
                trio(m.get("temperature"), 1),
            ]
        )
    doc.table(rows, (20, 20, 18, 22, 22, 12, 28, 24, 22), size=7, line_height=3.8)
    missing = [f"{m['id']}: {m['missing_hours']} h" for m in report["meters"] if m["missing_hours"]]
    if missing:
        doc.line("缺数小时 Hours without totalizer readings: " + ", ".join(missing), 7.5)


def _hours(doc: _Pdf, report: dict[str, Any]) -> None:
    """Hourly volumes, energy, pressures and temperatures per run."""
    doc.heading(
        "小时体积与能量  Hourly volumes (Sm³), energy (GJ) · 平均压力 MPa · 平均温度 °C", 10.5
    )
    head = ["时段 Hour"]
    widths: list[float] = [16]
    for m in report["meters"]:
        head += [f"{m['id']} Sm³", f"{m['id']} GJ", f"{m['id']} MPa", f"{m['id']} °C"]
        widths += [19, 15, 14, 12]
    head += ["全站 Station Sm³", "全站 Station GJ"]
    widths += [21, 17]
    scale = 186.0 / sum(widths)
    rows = [head]
    for h in report["hours"]:
        r = [h["label"] + (" *" if h["estimated"] else "")]
        for m in report["meters"]:
            mh = h["meters"][m["id"]]
            r += [
                _f(mh["volume"]),
                _f(mh.get("energy")),
                _f(mh["pressure"], 3),
                _f(mh["temperature"], 1),
            ]
        r += [_f(h["station"]), _f(h.get("station_energy"))]
        rows.append(r)
    total = ["合计 Total"]
    for m in report["meters"]:
        total += [_f(m["volume"]), _f(m.get("energy")), "", ""]
    total += [_f(report.get("station_volume")), _f(report.get("station_energy"))]
    rows.append(total)
    doc.table(rows, tuple(w * scale for w in widths), size=6.8, line_height=3.6)
    if any(h["estimated"] for h in report["hours"]):
        doc.line(
            "* 该小时边界处读数间隔过长，体积按线性分摊  * totalizer readings around this hour were far apart: volume spread linearly",
            7,
        )


def _alarms(doc: _Pdf, report: dict[str, Any], lang: str) -> None:
    """Alarm counts and the most frequent alarms."""
    a = report.get("alarms")
    doc.heading("报警统计  Alarms", 10.5)
    if not a:
        doc.line("无报警记录 No alarm journal found", 8.5)
    elif "error" in a:
        doc.line(f"报警记录不可读 Alarm journal not readable: {a['error']}", 8.5)
    else:
        bp = a["by_priority"]
        doc.line(
            f"产生 Raised: {a['raised']}    确认 Acknowledged: {a['acknowledged']}    "
            f"优先级 Priority 1: {bp['1']} · 2: {bp['2']} · 3: {bp['3']} · 4: {bp['4']}"
            + (
                f"    设计抑制 Suppressed by design: {a['raised_suppressed']}"
                if a.get("raised_suppressed")
                else ""
            ),
            8.5,
        )
        if a["top"]:
            rows = [["报警 Alarm", "次数 Count", "优先级 Priority", "说明 Message"]]
            for t in a["top"]:
                msg = t["message"]["zh"] if lang.startswith("zh") else t["message"]["en"]
                rows.append([t["alarm_id"], str(t["count"]), str(t["priority"]), msg])
            doc.table(rows, (52, 16, 20, 98), size=6.8, align="LEFT", line_height=3.6)


def _save(doc: _Pdf, path: Path) -> None:
    """Write the document to ``path`` via a temporary file."""
    p = doc.pdf
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        p.output(str(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
