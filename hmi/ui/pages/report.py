"""Daily metering report page: pick a day, build it on the analytics thread, view it, export PDF/CSV.

The report is built by ``runtime.analytics.request_report(day)`` (a future delivered to
the GUI thread by :func:`hmi.ui.tasks.watch`); files are written with
:func:`hmi.core.analytics.reportfile.write_report` on Qt's thread pool, so neither the
build nor the export ever blocks the screen.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.tasks import run_in_pool, watch
from hmi.ui.theme import restyle

log = logging.getLogger(__name__)


def _f(v: Any, digits: int = 0) -> str:
    return "-" if v is None else f"{float(v):,.{digits}f}"


class ReportPage(QWidget):
    """Daily report: volumes per meter run and station, P/T statistics, hourly volumes, alarm counts."""

    sigReport = Signal(object)  # the report dict shown (None: failed)
    sigExported = Signal(str, str)  # path, error ("" when written)

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.setObjectName("reportPage")
        self.live = live
        self.analytics = getattr(live.runtime, "analytics", None)
        self.report: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        self.date_label = QLabel(self)
        self.date = QDateEdit(self)
        self.date.setObjectName("reportDate")
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setDate(QDate.currentDate().addDays(-1))
        self.date.setMaximumDate(QDate.currentDate())
        self.build_btn = QPushButton(self)
        self.build_btn.setObjectName("reportBuild")
        self.build_btn.clicked.connect(self.build)
        self.pdf_btn = QPushButton(self)
        self.pdf_btn.setObjectName("reportPdf")
        self.pdf_btn.clicked.connect(lambda: self._ask_export("pdf"))
        self.csv_btn = QPushButton(self)
        self.csv_btn.setObjectName("reportCsv")
        self.csv_btn.clicked.connect(lambda: self._ask_export("csv"))
        self.status = QLabel(self)
        self.status.setObjectName("reportStatus")
        self.status.setProperty("role", "state")
        for w in (self.date_label, self.date, self.build_btn, self.pdf_btn, self.csv_btn):
            bar.addWidget(w)
        bar.addWidget(self.status, 1)
        lay.addLayout(bar)
        self.head = QLabel(self)
        self.head.setObjectName("reportHead")
        self.head.setProperty("role", "kpiSmall")
        self.head.setWordWrap(True)
        lay.addWidget(self.head)
        self.summary = QTableWidget(0, 11, self)
        self.summary.setObjectName("reportSummary")
        self.hours = QTableWidget(0, 0, self)
        self.hours.setObjectName("reportHours")
        for t in (self.summary, self.hours):
            t.verticalHeader().setVisible(False)
            t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.summary)
        lay.addWidget(self.hours, 1)
        self.alarm_line = QLabel(self)
        self.alarm_line.setObjectName("reportAlarms")
        self.alarm_line.setWordWrap(True)
        lay.addWidget(self.alarm_line)
        self._set_buttons()
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()

    # ------------------------------------------------------------------ build
    def build(self, day: dt.date | None = None) -> None:
        """Build the report of ``day`` (default: the date picked) in the background."""
        if day is None:
            day = dt.date.fromisoformat(self.date.date().toString("yyyy-MM-dd"))
        else:
            self.date.setDate(QDate(day.year, day.month, day.day))
        if self.analytics is None:
            self._say(tr("Analytics is not configured for this station"), False)
            return
        self._say(tr("Building the report of {d} …").format(d=day.isoformat()), True)
        self.build_btn.setEnabled(False)
        watch(self.analytics.request_report(day), self._built)

    def _built(self, report: Any, error: BaseException | None) -> None:
        self.build_btn.setEnabled(True)
        if error is not None:
            self._say(tr("Report failed") + f": {error}", False)
            self.sigReport.emit(None)
            return
        self.report = report
        self._fill()
        self._set_buttons()
        done = (
            tr("Report complete")
            if report.get("complete")
            else tr("Report incomplete: some hours have no readings")
        )
        self._say(done, bool(report.get("complete")))
        self.sigReport.emit(report)

    # ------------------------------------------------------------------ export
    def _ask_export(self, fmt: str) -> None:
        if self.report is None:
            return
        name = f"daily-{self.report['date']}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Export report"), str(Path.home() / name), f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> None:
        """Write the shown report to ``path`` (.pdf/.csv/.json) off the GUI thread; emits sigExported."""
        if self.report is None:
            return
        from hmi.core.analytics.reportfile import write_report

        report, lang = self.report, i18n().lang
        self._say(tr("Exporting {p} …").format(p=path.name), True)

        def job() -> str:  # the error as text: nothing but a string crosses back to the GUI thread
            try:
                write_report(report, path, lang)
            except OSError as exc:
                return f"{tr('cannot write')} {path}: {exc.strerror or exc}"
            except Exception as exc:  # ReportError (font missing, ...) and anything unexpected
                return str(exc) or type(exc).__name__
            return ""

        run_in_pool(job, lambda err, exc: self._exported(path, err or (str(exc) if exc else "")))

    def _exported(self, path: Path, error: str) -> None:
        if error:
            self._say(tr("Export failed") + f": {error}", False)
            self.sigExported.emit(str(path), error)
            return
        self._say(tr("Saved") + f": {path}", True)
        self.sigExported.emit(str(path), "")

    # ------------------------------------------------------------------ view
    def _fill(self) -> None:
        r = self.report
        if r is None:
            self.summary.setRowCount(0)
            self.hours.setRowCount(0)
            self.head.setText(tr("Pick a day and build its report"))
            self.alarm_line.setText("")
            return
        zh = i18n().is_zh
        st = r["station"]
        peak = r.get("peak_hour") or {}
        head = f"{st['name']['zh' if zh else 'en']} · {r['date']} · {tr('Station send-out')}: {_f(r['station_volume'])} Sm³"
        if peak:
            head += f" · {tr('Peak hour')}: {peak.get('label', '')} ({_f(peak.get('volume'))} Sm³)"
        self.head.setText(head)
        rows = list(r["meters"])
        self.summary.setRowCount(len(rows) + 1)
        for i, m in enumerate(rows):
            cells = [self._name(m, zh), _f(m["volume"])]
            for key, digits in (("pressure", 3), ("temperature", 1)):
                s = m.get(key) or {}
                cells += [
                    _f(s.get("min"), digits),
                    _f(s.get("avg"), digits),
                    _f(s.get("max"), digits),
                ]
            cells += [
                _f(m.get("total_start")),
                _f(m.get("total_end")),
                str(m.get("missing_hours", 0) + m.get("estimated_hours", 0)),
            ]
            self._row(self.summary, i, cells)
        self._row(
            self.summary, len(rows), [tr("Station"), _f(r["station_volume"])] + [""] * 9, bold=True
        )
        self._fit(self.summary)
        meters = [m["id"] for m in rows]
        names = [self._name(m, zh) + " (Sm³)" for m in rows]
        self.hours.setColumnCount(len(meters) + 2)
        self.hours.setHorizontalHeaderLabels([tr("Hour")] + names + [tr("Station") + " (Sm³)"])
        self.hours.setRowCount(len(r["hours"]))
        for i, h in enumerate(r["hours"]):
            mark = " *" if h.get("estimated") else ""
            self._row(
                self.hours,
                i,
                [h["label"]]
                + [_f(h["meters"][m]["volume"]) for m in meters]
                + [_f(h["station"]) + mark],
            )
        a = r.get("alarms") or {}
        if "raised" in a:
            prio = " · ".join(f"P{p}: {n}" for p, n in a.get("by_priority", {}).items())
            self.alarm_line.setText(
                tr("Alarms raised: {n}, acknowledged: {a}").format(
                    n=a["raised"], a=a["acknowledged"]
                )
                + (f" ({prio})" if prio else "")
            )
        else:
            self.alarm_line.setText(tr("No alarm journal"))

    @staticmethod
    def _name(meter: dict[str, Any], zh: bool) -> str:
        label = meter.get("label") or {}
        return str(
            (label.get("zh" if zh else "en") if isinstance(label, dict) else "") or meter["id"]
        )

    @staticmethod
    def _fit(table: QTableWidget) -> None:
        """Height for all rows, no empty space below them."""
        h = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        h += sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setFixedHeight(h + 2)

    @staticmethod
    def _row(table: QTableWidget, r: int, cells: list[str], bold: bool = False) -> None:
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            table.setItem(r, c, item)

    def _set_buttons(self) -> None:
        self.pdf_btn.setEnabled(self.report is not None)
        self.csv_btn.setEnabled(self.report is not None)
        self.build_btn.setEnabled(self.analytics is not None)

    def _say(self, text: str, ok: bool) -> None:
        self.status.setText(text)
        restyle(self.status, state="ok" if ok else "bad")

    def retranslate(self, *_: Any) -> None:
        """Texts."""
        self.date_label.setText(tr("Day"))
        self.build_btn.setText(tr("Build report"))
        self.pdf_btn.setText(tr("Export PDF"))
        self.csv_btn.setText(tr("Export CSV"))
        self.summary.setHorizontalHeaderLabels(
            [tr("Meter run"), tr("Volume") + " (Sm³)"]
            + [tr(n) + " (MPa)" for n in ("P min", "P avg", "P max")]
            + [tr(n) + " (°C)" for n in ("T min", "T avg", "T max")]
            + [tr("Totalizer start"), tr("Totalizer end"), tr("Hours missing/estimated")]
        )
        self._fill()
