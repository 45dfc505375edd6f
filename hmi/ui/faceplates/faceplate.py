"""The faceplate of one tag (display level 3).

Value with quality and time, engineering range and alarm limits on an analog bar, a
live trend of the last minutes, the tag's alarms with acknowledge/shelve, and, for a
writable tag, set-point entry or discrete commands behind a confirmation dialog.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QDoubleValidator, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from drivers.base import Quality
from hmi.config.schema import TagConfig
from hmi.core.commands import action_for
from hmi.core.tagtable import TagUpdate
from hmi.core.users import Action
from hmi.ui import fmt
from hmi.ui.actions import Actions, needs_text, result_text, role_text
from hmi.ui.faceplates.dialogs import ConfirmWriteDialog, ShelveDialog
from hmi.ui.faceplates.ladder import ProtectionLadder, runs_for
from hmi.ui.i18n import i18n, tr, tr_reason
from hmi.ui.live import LiveData
from hmi.ui.texts import QUALITY_TEXT, STATE_TEXT, area_text
from hmi.ui.theme import restyle
from hmi.ui.trends.view import TrendView
from hmi.ui.widgets.analog_bar import AnalogBar
from hmi.ui.widgets.glyph import glyph_pixmap

TREND_WINDOW = 600.0  # s shown in the faceplate trend
TREND_MIN_HEIGHT = 120  # px: with the protection ladder the faceplate still fits 1366x768
SIDE_BY_SIDE_BELOW = 900  # px of room below which trend and alarms sit side by side
SCREEN_MARGIN = 40  # px kept free of the screen's available height (title bar, taskbar)


def _exec_dialog(dialog: QDialog) -> bool:
    return dialog.exec() == QDialog.DialogCode.Accepted


class Faceplate(QDialog):
    """Non-modal window for one tag."""

    actions: Actions  # type: ignore[assignment]  # shadows QWidget.actions(), unused here
    result: QLabel  # type: ignore[assignment]  # shadows QDialog.result(), unused here

    #: how confirmation dialogs are shown (tests replace it)
    confirm: Callable[[QDialog], bool] = staticmethod(_exec_dialog)

    def __init__(
        self, tag: TagConfig, live: LiveData, actions: Actions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("faceplate")
        self.setWindowFlag(Qt.WindowType.Tool, True)
        self.tag = tag
        self.live = live
        self.actions = actions
        self.index = live.index_of(tag.name)
        self.numeric = tag.type != "string"
        self.last: tuple[Any, int, float, str] = (math.nan, 0, 0.0, "")
        lay = QVBoxLayout(self)
        lay.setSpacing(6)
        # a short screen (1366x768): trend and alarms side by side, the faceplate wider
        self.side_by_side = self._room() < SIDE_BY_SIDE_BELOW
        self.title = QLabel(self)
        self.title.setObjectName("faceplateTitle")
        self.subtitle = QLabel(self)
        self.subtitle.setObjectName("faceplateTag")
        self.close_button = QPushButton(self)
        self.close_button.clicked.connect(self.close)
        head = QHBoxLayout()  # the close button beside the title: no row of its own at 768 px
        head.addWidget(self.title, 1)
        head.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(head)
        lay.addWidget(self.subtitle)
        # ---- value block
        top = QHBoxLayout()
        self.value = QLabel(self)
        self.value.setObjectName("faceplateValue")
        self.value.setProperty("role", "bigValue")
        self.value.setMinimumWidth(220)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.value)
        info = QGridLayout()
        self.quality = QLabel(self)
        self.quality.setObjectName("faceplateQuality")
        self.quality.setProperty("role", "state")
        self.ts = QLabel(self)
        self.reason = QLabel(self)
        self.reason.setWordWrap(True)
        self.reason.setProperty("role", "dim")
        self.l_quality, self.l_ts = QLabel(self), QLabel(self)
        info.addWidget(self.l_quality, 0, 0)
        info.addWidget(self.quality, 0, 1)
        info.addWidget(self.l_ts, 1, 0)
        info.addWidget(self.ts, 1, 1)
        info.addWidget(self.reason, 2, 0, 1, 2)
        top.addLayout(info, 1)
        lay.addLayout(top)
        self.bar = (
            AnalogBar(tag, self) if self.numeric and tag.type != "bool" and not tag.states else None
        )
        if self.bar is not None:
            lay.addWidget(self.bar)
        runs = runs_for(live.cfg, tag) if self.bar is not None else []
        self.ladder = ProtectionLadder(tag, runs, self) if runs else None
        if self.ladder is not None:
            lay.addWidget(self.ladder)
        self.props = QLabel(self)
        self.props.setObjectName("faceplateProps")
        self.props.setWordWrap(True)
        lay.addWidget(self.props)
        # ---- trend
        self.trend = (
            TrendView(live, [tag], TREND_WINDOW, self, compact=True) if self.numeric else None
        )
        if self.trend is not None:
            self.trend.setMinimumHeight(TREND_MIN_HEIGHT)  # grows with the window (stretch)
        lower = QHBoxLayout() if self.side_by_side else lay
        if self.trend is not None:
            lower.addWidget(self.trend, 3 if self.side_by_side else 1)
        # ---- alarms
        self.alarm_box = QGroupBox(self)
        ab = QVBoxLayout(self.alarm_box)
        self.alarm_table = QTableWidget(0, 4, self)
        self.alarm_table.setObjectName("faceplateAlarms")
        self.alarm_table.verticalHeader().setVisible(False)
        self.alarm_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.alarm_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.alarm_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.alarm_table.setMinimumHeight(84)  # header and three alarms: fits 1366x768
        self.alarm_table.setMaximumHeight(150)
        ab.addWidget(self.alarm_table)
        row = QHBoxLayout()
        self.b_ack = QPushButton(self)
        self.b_ack.setObjectName("faceplateAck")
        self.b_ack.clicked.connect(self._ack)
        self.b_shelve = QPushButton(self)
        self.b_shelve.setObjectName("faceplateShelve")
        self.b_shelve.clicked.connect(self._shelve)
        self.b_unshelve = QPushButton(self)
        self.b_unshelve.clicked.connect(self._unshelve)
        self.b_reset = QPushButton(self)
        self.b_reset.clicked.connect(self._reset)
        for b in (self.b_ack, self.b_shelve, self.b_unshelve, self.b_reset):
            row.addWidget(b)
        row.addStretch(1)
        ab.addLayout(row)
        lower.addWidget(self.alarm_box, 2 if self.side_by_side else 0)
        if lower is not lay:
            lay.addLayout(lower, 1)
        self.alarm_box.setVisible(bool(tag.alarms))
        # ---- commands
        self.cmd_box: QGroupBox | None = None
        self.entry: QLineEdit | None = None
        self.cmd_buttons: list[tuple[QPushButton, float]] = []
        self.result = QLabel(self)
        self.result.setObjectName("faceplateResult")
        self.result.setWordWrap(True)
        self.comment: QLineEdit | None = None  # manual entries: where the value comes from
        if tag.access in ("rw", "manual"):
            self._build_commands(lay)
        lay.addWidget(self.result)
        self.result.setVisible(False)  # shown with the outcome of a command
        want = (800 if tag.access in ("rw", "manual") else 740) + (200 if self.ladder else 0)
        self.resize(980 if self.side_by_side else 620, self._fitted_height(want))
        live.sigTags.connect(self.on_tags)
        live.sigAlarms.connect(self.on_alarms)
        i18n().sigLanguageChanged.connect(self.retranslate)
        actions.sigSessionChanged.connect(self._gate)
        self.retranslate()
        self._show_value(*live.value(tag.name))
        self.on_alarms(live.alarms)

    def _room(self) -> int:
        """Height the faceplate may take: its screen's, or the main window's when that is
        taller (offscreen rendering draws a 1920x1080 window on a small virtual screen)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        height = screen.availableGeometry().height() if screen else 10_000
        parent = self.parentWidget()
        if parent is not None:
            height = max(height, parent.window().height())
        return height - SCREEN_MARGIN

    def _fitted_height(self, want: int) -> int:
        """``want``, or less on a small screen (never below what the layout needs)."""
        return max(self.minimumSizeHint().height(), min(want, self._room()))

    # ------------------------------------------------------------------ build
    def _build_commands(self, lay: QVBoxLayout) -> None:
        box = QGroupBox(self)
        box.setObjectName("faceplateCommands")
        row = QHBoxLayout(box)
        if self.tag.states or self.tag.type == "bool":
            # one button per command state (open / close / stop ...); a plain bool: off / on
            for key in sorted(self.tag.states) if self.tag.states else (0, 1):
                b = QPushButton(self)
                b.setProperty("role", "command")
                b.setObjectName(f"command_{key}")
                b.clicked.connect(lambda _=False, k=key: self.request_write(float(k)))
                self.cmd_buttons.append((b, float(key)))
                row.addWidget(b)
        else:
            self.entry = QLineEdit(self)
            self.entry.setObjectName("setpointEntry")
            v = QDoubleValidator(self.tag.range[0], self.tag.range[1], self.tag.precision, self)
            v.setNotation(QDoubleValidator.Notation.StandardNotation)
            self.entry.setValidator(v)
            self.entry.returnPressed.connect(self._write_entry)
            self.write_button = QPushButton(self)
            self.write_button.setObjectName("writeButton")
            self.write_button.setProperty("role", "command")
            self.write_button.clicked.connect(self._write_entry)
            self.unit_label = QLabel(self.tag.unit, self)
            row.addWidget(self.entry, 1)
            row.addWidget(self.unit_label)
            row.addWidget(self.write_button)
        self.interlock = QLabel(self)
        self.interlock.setProperty("role", "state")
        self.interlock.setWordWrap(True)
        lay.addWidget(box)
        if self.tag.access == "manual":  # the audit records where a typed-in value comes from
            self.comment = QLineEdit(self)
            self.comment.setObjectName("entryComment")
            self.comment.setPlaceholderText(tr("Comment (source of the value)"))
            lay.addWidget(self.comment)
        lay.addWidget(self.interlock)
        self.cmd_box = box

    def retranslate(self, *_: Any) -> None:
        """Texts in the current language."""
        t = self.tag
        title = f"{t.instrument}  {fmt.label(t)}" if t.instrument else fmt.label(t)
        self.setWindowTitle(f"{title} — {t.name}")
        self.title.setText(title)  # 位号 (PT-501) beside the description
        parts = [t.name]
        if t.area:
            parts.append(f"{tr('Area')}: {area_text(t.area)}")
        parts.append(f"{tr('Device')}: {t.device}")
        self.subtitle.setText("   ·   ".join(parts))
        self.l_quality.setText(tr("Quality") + ":")
        self.l_ts.setText(tr("Time") + ":")
        lim = ", ".join(f"{a.kind} {a.limit:g}" for a in t.alarms if a.limit is not None)
        rows = [f"{tr('Range')}: {t.range[0]:g} … {t.range[1]:g} {t.unit}".strip()]
        if lim:
            rows.append(f"{tr('Alarm limits')}: {lim} {t.unit}".strip())
        access = {"rw": tr("read/write"), "manual": tr("manual entry")}.get(
            t.access, tr("read only")
        )
        rows.append(f"{tr('Access')}: {access}")
        if t.description:
            rows.append(t.description)
        self.props.setText("    ".join(rows))
        self.alarm_box.setTitle(tr("Alarms of this tag"))
        self.alarm_table.setHorizontalHeaderLabels(
            [tr("Priority"), tr("Kind"), tr("Limit"), tr("State")]
        )
        self.b_ack.setText(tr("Acknowledge"))
        self.b_shelve.setText(tr("Shelve…"))
        self.b_unshelve.setText(tr("Unshelve"))
        self.b_reset.setText(tr("Reset"))
        self.close_button.setText(tr("Close"))
        if self.cmd_box is not None:
            self.cmd_box.setTitle(tr("Command"))
            for b, key in self.cmd_buttons:
                text = t.states.get(int(key))
                b.setText(
                    text.get(i18n().lang)
                    if text
                    else (tr("On") if key else tr("Off"))
                    if t.type == "bool"
                    else f"{key:g}"
                )
            if self.entry is not None:
                self.write_button.setText(tr("Write…"))
                self.entry.setPlaceholderText(f"{t.range[0]:g} … {t.range[1]:g}")
            self._check_interlocks()
        self._show_value(*self.last) if self.last[2] else None
        self.on_alarms(self.live.alarms)

    # ------------------------------------------------------------------ live
    def on_tags(self, upd: TagUpdate) -> None:
        """Refresh when this tag changed."""
        hit = np.nonzero(upd.indices == self.index)[0]
        if len(hit):
            k = int(hit[-1])
            value: Any = float(upd.values[k])
            if self.live.tags.is_string[self.index]:
                value = self.live.value(self.tag.name)[0]
            self._show_value(value, int(upd.quality[k]), float(upd.ts[k]), upd.reasons[k])
        if self.cmd_box is not None and self.tag.interlocks:
            self._check_interlocks()

    def _show_value(self, value: Any, quality: int, ts: float, reason: str) -> None:
        self.last = (value, int(quality), ts, reason)
        prio, _unack = self.live.alarm_of(self.tag.name)
        self.value.setText(fmt.value_text(self.tag, value, quality))
        q = fmt.quality_name(quality)
        restyle(self.value, quality=q, alarm=str(prio))
        self.quality.setText(tr(QUALITY_TEXT[q]))
        restyle(self.quality, state={"good": "ok", "uncertain": "warn", "bad": "bad"}[q])
        self.ts.setText(fmt.clock(ts))
        self.reason.setText(tr_reason(reason) if q != "good" else "")
        self.value.setToolTip(fmt.quality_tooltip(self.tag, quality, reason, ts))
        if self.bar is not None and not isinstance(value, str):
            self.bar.set_value(float(value), quality, prio)
        if self.ladder is not None and not isinstance(value, str):
            self.ladder.set_value(float(value), q)

    def on_alarms(self, views: list[Any]) -> None:
        """The tag's alarms: configured ones, with their live state."""
        live = {v.alarm_id: v for v in views if v.tag == self.tag.name}
        self.alarm_table.setRowCount(len(self.tag.alarms))
        self._alarm_ids: list[str] = []
        for r, a in enumerate(self.tag.alarms):
            aid = self.tag.alarm_id(a)
            self._alarm_ids.append(aid)
            v = live.get(aid)
            state = v.state if v is not None else "NORMAL"
            flags = []
            if v is not None and v.shelved:
                flags.append(tr("shelved"))
            if v is not None and v.suppressed:
                flags.append(tr("suppressed"))
            if v is not None and v.latched:
                flags.append(tr("latched: reset required"))
            item = QTableWidgetItem(str(a.priority))
            item.setIcon(glyph_pixmap(a.priority, 16, filled=state != "NORMAL"))
            self.alarm_table.setItem(r, 0, item)
            self.alarm_table.setItem(r, 1, QTableWidgetItem(a.kind))
            self.alarm_table.setItem(
                r, 2, QTableWidgetItem("" if a.limit is None else f"{a.limit:g} {self.tag.unit}")
            )
            self.alarm_table.setItem(
                r, 3, QTableWidgetItem(", ".join([tr(STATE_TEXT.get(state, state)), *flags]))
            )
        self.alarm_table.resizeColumnsToContents()
        self._gate()
        if self.last[2]:
            prio, _ = self.live.alarm_of(self.tag.name)
            restyle(self.value, alarm=str(prio))

    def selected_alarm(self) -> str:
        """Selected alarm id (the first alarm when none is selected)."""
        rows = self.alarm_table.selectionModel().selectedRows()
        r = rows[0].row() if rows else 0
        return self._alarm_ids[r] if self._alarm_ids else ""

    # ------------------------------------------------------------------ alarm actions
    def _ack(self) -> None:
        aid = self.selected_alarm()
        if aid:
            self.actions.ack([aid], done=self._done)

    def _shelve(self) -> None:
        aid = self.selected_alarm()
        if not aid:
            return
        a = next((a for a in self.tag.alarms if self.tag.alarm_id(a) == aid), None)
        dlg = ShelveDialog(f"{aid}", a.max_shelve if a is not None else None, self)
        if self.confirm(dlg):
            reason, duration = dlg.values()
            self.actions.shelve(aid, reason, duration, done=self._done)

    def _unshelve(self) -> None:
        aid = self.selected_alarm()
        if aid:
            self.actions.unshelve(aid, done=self._done)

    def _reset(self) -> None:
        aid = self.selected_alarm()
        if aid:
            self.actions.reset(aid, done=self._done)

    def _done(self, ok: bool, text: str) -> None:
        self.result.setText(text)
        self.result.setVisible(bool(text))
        restyle(self.result, role="state", state="ok" if ok else "bad")

    # ------------------------------------------------------------------ permissions
    def _gate(self, *_: Any) -> None:
        """Enable what the session may do; a disabled button's tooltip names the role needed."""
        a = self.actions
        has = bool(getattr(self, "_alarm_ids", None))
        a.gate(self.b_ack, Action.ACKNOWLEDGE, enabled=has)
        a.gate(self.b_shelve, Action.SHELVE, enabled=has)
        a.gate(self.b_unshelve, Action.SHELVE, enabled=has)
        a.gate(self.b_reset, Action.RESET, enabled=has)
        if self.cmd_box is None:
            return
        action = action_for(self.tag)
        free = not self._interlock_message()
        for b, _k in self.cmd_buttons:
            a.gate(b, action, enabled=free)
        if self.entry is not None:
            self.entry.setEnabled(a.gate(self.write_button, action, enabled=free))

    # ------------------------------------------------------------------ writes
    def _interlock_message(self) -> str:
        """The first interlock that blocks a command now ('' when none)."""
        for lk, blocks in self.actions.interlocks(self.tag):
            if blocks is None:
                return tr("{text} — cannot be checked: {tag} has no good value").format(
                    text=fmt.text(lk.message), tag=lk.tag
                )
            if blocks:
                return fmt.text(lk.message)
        return ""

    def _check_interlocks(self) -> None:
        msg = self._interlock_message()
        self.interlock.setText((tr("Interlock") + ": " + msg) if msg else "")
        restyle(self.interlock, state="bad" if msg else "ok")
        self._gate()

    def _write_entry(self) -> None:
        if self.entry is None:
            return
        text = self.entry.text().strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            self._done(False, tr("Enter a number"))
            return
        lo, hi = self.tag.range
        if not lo <= value <= hi:
            self._done(
                False, tr("Outside the range {lo} … {hi}").format(lo=f"{lo:g}", hi=f"{hi:g}")
            )
            return
        self.request_write(value)

    def confirm_dialog(self, value: float) -> tuple[ConfirmWriteDialog | None, Any]:
        """(confirmation dialog, current value it shows), or (None, None) after showing a refusal.

        Step one of a command is choosing the value; this builds step two. The command
        service's checks (permission, range, interlocks) run first, so a command that
        would be refused is never offered for confirmation.
        """
        action = action_for(self.tag)
        if not self.actions.can(action):
            self._done(False, needs_text(action, self.actions.session))
            return None, None
        refusal = self.actions.check_write(self.tag.name, value)
        if refusal is not None:
            self._done(*result_text(refusal))
            return None, None
        old = self.actions.current_value(self.tag.name)
        quality = self.live.value(self.tag.name)[1]
        old_text = (
            fmt.value_text(self.tag, old if isinstance(old, str) else float(old), quality)
            if old is not None
            else tr("unknown")
        )
        new_text = fmt.value_text(self.tag, value, int(Quality.GOOD))
        notes = [
            (tr("Interlock checked, not active") + ": " + fmt.text(lk.message), "ok")
            for lk, blocks in self.actions.interlocks(self.tag)
            if blocks is False
        ]
        s = self.actions.session
        who = f"{s.display_name} ({role_text(s.effective_role())})"
        return ConfirmWriteDialog(
            fmt.label(self.tag),
            self.tag.name,
            old_text,
            new_text,
            parent=self,
            who=who,
            notes=notes,
        ), old

    def request_write(self, value: float) -> bool:
        """Check, ask for confirmation (current and new value), then write; True when sent."""
        dlg, old = self.confirm_dialog(value)
        if dlg is None:
            return False
        if not self.confirm(dlg):
            self._done(False, tr("Cancelled"))
            return False
        self.result.setText(tr("Sending…"))
        self.result.setVisible(True)
        restyle(self.result, role="state", state="warn")
        comment = self.comment.text().strip() if self.comment is not None else ""
        return self.actions.write(
            self.tag.name, value, confirm_old=old, done=self._done, comment=comment
        )
