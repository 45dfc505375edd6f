"""The instructor's training dialog: pick a scenario, start and stop the drill, read the report."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from hmi.core.training import drill_scenarios
from hmi.core.users import Role
from hmi.ui.i18n import i18n, tr
from hmi.ui.theme import restyle
from hmi.ui.training.report_view import report_html


class TrainingDialog(QDialog):
    """Scenario list (zh/en descriptions), timeline, start / stop, the last drill's report."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingDialog")
        self.controller = controller
        self.scenarios = drill_scenarios()
        lay = QVBoxLayout(self)
        self.state = QLabel(self)
        self.state.setObjectName("trainingState")
        self.state.setProperty("role", "state")
        lay.addWidget(self.state)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.list = QListWidget(split)
        self.list.setObjectName("scenarioList")
        right = QWidget(split)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.timeline = QPlainTextEdit(right)
        self.timeline.setReadOnly(True)
        self.timeline.setObjectName("scenarioTimeline")
        rl.addWidget(self.timeline, 2)
        self.report = QTextBrowser(right)
        self.report.setObjectName("drillReport")
        rl.addWidget(self.report, 3)
        self.files = QLabel(right)
        self.files.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files.setWordWrap(True)
        rl.addWidget(self.files)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        lay.addWidget(split, 1)
        row = QHBoxLayout()
        self.operator_label = QLabel(self)
        row.addWidget(self.operator_label)
        self.operator = QComboBox(self)
        self.operator.setEditable(True)
        self.operator.setObjectName("drillOperator")
        self.operator.setMinimumWidth(180)
        row.addWidget(self.operator)
        row.addStretch(1)
        self.start_button = QPushButton(self)
        self.start_button.setObjectName("startDrill")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton(self)
        self.stop_button.setObjectName("stopDrill")
        self.stop_button.clicked.connect(self.stop)
        self.close_button = QPushButton(self)
        self.close_button.clicked.connect(self.close)
        for b in (self.start_button, self.stop_button, self.close_button):
            row.addWidget(b)
        lay.addLayout(row)
        self.list.currentRowChanged.connect(self._show_timeline)
        i18n().sigLanguageChanged.connect(self.retranslate)
        controller.window.actions.sigSessionChanged.connect(self.refresh)
        self._fill_operators()
        self.retranslate()
        if self.scenarios:
            self.list.setCurrentRow(0)
        self.resize(1100, 680)

    def _fill_operators(self) -> None:
        users: Any = getattr(self.controller.window.runtime, "users", None)
        names: list[str] = []
        try:
            names = [u.name for u in users.list_users() if u.role == Role.OPERATOR and u.enabled]
        except Exception:  # no user database: the instructor types the name
            names = []
        self.operator.clear()
        self.operator.addItems(names)

    def selected(self) -> str:
        """Name of the selected scenario ('' when none)."""
        row = self.list.currentRow()
        return self.scenarios[row].name if 0 <= row < len(self.scenarios) else ""

    def select(self, name: str) -> None:
        """Select scenario ``name``."""
        for i, s in enumerate(self.scenarios):
            if s.name == name:
                self.list.setCurrentRow(i)
                return
        raise ValueError(f"unknown scenario {name!r}")

    def _show_timeline(self, row: int) -> None:
        if not 0 <= row < len(self.scenarios):
            self.timeline.clear()
            return
        s = self.scenarios[row]
        lang = i18n().lang
        desc = s.description(lang)
        # a scenario's timeline text may already start with its description
        text = s.timeline if desc in s.timeline else f"{s.name} — {desc}\n\n{s.timeline}"
        if s.expected is not None:
            text += "\n\n" + tr("Expected alarms: {ids}").format(ids=", ".join(s.expected) or "—")
        if s.possible:
            text += "\n" + tr("May also raise: {ids}").format(ids=", ".join(s.possible))
        if s.speed > 0 and s.duration > 0:
            sim = getattr(self.controller.service.simulator, "simulator", None)
            text += "\n\n" + tr(
                "Suggested: simulator speed ×{speed}, {minutes} min of drill (this station runs at ×{now})"
            ).format(
                speed=f"{s.speed:g}",
                minutes=f"{s.duration / s.speed / 60:.1f}",
                now=f"{getattr(sim, 'speed', 1.0):g}",
            )
        self.timeline.setPlainText(text)

    def retranslate(self, *_: Any) -> None:
        """Every text in the current language."""
        self.setWindowTitle(tr("Training drill"))
        lang = i18n().lang
        row = self.list.currentRow()
        self.list.clear()
        for s in self.scenarios:
            head = f"{s.name} — {s.title(lang)}" if s.title(lang) else s.name
            item = QListWidgetItem(f"{head}\n    {s.description(lang)}")
            item.setToolTip(s.timeline)
            self.list.addItem(item)
        if self.scenarios:
            self.list.setCurrentRow(max(0, row))
        self.operator_label.setText(tr("Operator on shift"))
        self.start_button.setText(tr("Start drill"))
        self.stop_button.setText(tr("Stop drill"))
        self.close_button.setText(tr("Close"))
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Buttons and state line from the controller's drill and the session."""
        info = self.controller.service.active
        busy = self.controller.busy
        why = self.controller.why_not(self.controller.window.actions.session)
        allowed = not why and not busy  # another user logged in: an operator may not
        self.start_button.setEnabled(info is None and allowed)
        self.stop_button.setEnabled(info is not None and allowed)
        for b in (self.start_button, self.stop_button):
            b.setToolTip(why)
        self.list.setEnabled(info is None)
        if info is not None:
            self.state.setText(
                "培训 TRAINING — "
                + tr("drill {id} running (scenario {name})").format(
                    id=info.drill_id, name=info.scenario
                )
            )
            restyle(self.state, state="warn")
        else:
            self.state.setText(tr("No drill running: the station shows normal simulated operation"))
            restyle(self.state, state="ok")
        last = self.controller.service.last
        if last is not None:
            self.report.setHtml(report_html(last.report))
            files = [str(last.json_path)] + ([str(last.pdf_path)] if last.pdf_path else [])
            text = tr("Report saved: {files}").format(files=", ".join(files))
            if last.pdf_error:
                text += "\n" + tr("No PDF: {error}").format(error=last.pdf_error)
            self.files.setText(text)

    def start(self) -> None:
        """Start the selected scenario as a drill."""
        name = self.selected()
        if name:
            self.controller.start(name, self.operator.currentText().strip())

    def stop(self) -> None:
        """Stop the running drill."""
        self.controller.stop()
