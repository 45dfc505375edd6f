"""Training mode on the main window: the menu entry, the dialog, the drill's marks.

:func:`install_training` gives a main window its controller (``win.training``). The
user menu (:meth:`hmi.ui.login.Login.open_menu`) asks it for the "Training drill…"
entry: enabled for an engineer on the simulated station, disabled with the reason in
its tooltip otherwise (real devices, or a role below engineer).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu

from hmi.core.training import TrainingService, training_periods
from hmi.core.users import Action
from hmi.ui.i18n import i18n, tr
from hmi.ui.tasks import run_in_pool
from hmi.ui.training.dialog import TrainingDialog
from hmi.ui.training.marking import TrainingMarks
from hmi.ui.training.spans import DrillSpans


class TrainingController(QObject):
    """One window's training mode."""

    sigDrillChanged = Signal()

    def __init__(self, win: Any, simulator: Any = None) -> None:
        super().__init__(win)
        self.window = win
        self.service = TrainingService(win.runtime, simulator)
        self.marks = TrainingMarks(win)
        self.spans: dict[int, DrillSpans] = {}  # trend plot -> its drill regions
        for plot in self.marks.targets:
            self.shade(plot)
        win.live.sigTick.connect(self._tick)
        self.dialog: TrainingDialog | None = None
        self.busy = False
        self.menu_action: Any = None
        i18n().sigLanguageChanged.connect(self.marks.retranslate)

    # ------------------------------------------------------------------ trend regions
    def _periods(self) -> list[tuple[float, float | None, str]]:
        try:
            return training_periods(self.window.runtime.data_dir)
        except (AttributeError, OSError):
            return []

    def shade(self, plot: Any) -> None:
        """Shade the drill spans on a trend plot (faceplates call this through the marks)."""
        key = id(plot)
        spans = self.spans.get(key)
        if spans is None:
            spans = self.spans[key] = DrillSpans(plot)
            plot.destroyed.connect(lambda _=None, k=key: self.spans.pop(k, None))
        spans.show(self._periods())

    def faceplate_opened(self, fp: Any) -> None:
        """A new faceplate: its training tag and its trend's drill regions."""
        self.marks.mark(fp)
        trend = getattr(fp, "trend", None)  # a TrendView: its plot is the pyqtgraph widget
        if trend is not None:
            self.shade(getattr(trend, "plot", trend))

    def _reshade(self) -> None:
        periods = self._periods()
        for spans in list(self.spans.values()):
            spans.show(periods)

    def _tick(self, n: int) -> None:
        if n % 4 == 0:  # about once a second
            for spans in list(self.spans.values()):
                spans.place_labels()

    # ------------------------------------------------------------------ menu
    def why_not(self, session: Any) -> str:
        """Why ``session`` may not run a drill here ('' when it may)."""
        if not self.service.available:
            return tr(
                "Training runs only on the simulated station (gas-hmi demo): this station is connected to real devices"
            )
        if not session.can(Action.RUN_TRAINING):
            return tr("Training drills are started by an instructor (engineer role)")
        return ""

    def add_menu_entry(self, menu: QMenu, session: Any) -> Any:
        """The "Training drill…" entry of the user menu."""
        act = menu.addAction(tr("Training drill…"), self.open_dialog)
        act.setObjectName("trainingAction")
        why = self.why_not(session)
        act.setEnabled(not why)
        act.setToolTip(why or tr("Start or stop a training drill on the simulated station"))
        menu.setToolTipsVisible(True)
        self.menu_action = act
        return act

    def open_dialog(self) -> TrainingDialog | None:
        """The training dialog (refused with a message when the user may not run drills)."""
        why = self.why_not(self.window.actions.session)
        if why:
            self.window.show_message(why, False)
            return None
        if self.dialog is None:
            self.dialog = TrainingDialog(self, self.window)
            self.dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
            active, last = self.service.active, self.service.last
            name = active.scenario if active is not None else ""
            if not name and last is not None:
                name = str(last.report["drill"]["scenario"])
            if name in {s.name for s in self.dialog.scenarios}:
                self.dialog.select(name)  # the running or the last drill's scenario
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    # ------------------------------------------------------------------ drill
    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        if self.dialog is not None:
            self.dialog.refresh()

    def start(self, scenario: str, operator: str = "") -> None:
        """Start a drill off the GUI thread; the marks appear when it runs."""
        session = self.window.actions.session
        self._set_busy(True)

        def done(info: Any, error: BaseException | None) -> None:
            self._set_busy(False)
            if error is not None:
                self.window.show_message(
                    tr("Drill not started: {error}").format(error=error), False
                )
                return
            self.marks.set_drill(info)
            self._reshade()
            self.window.show_message(
                tr("Training drill {id} started").format(id=info.drill_id), True
            )
            self._set_busy(False)
            self.sigDrillChanged.emit()

        run_in_pool(lambda: self.service.start(scenario, session, operator), done)

    def stop(self) -> None:
        """Stop the drill off the GUI thread; the report shows in the dialog."""
        session = self.window.actions.session
        lang = i18n().lang
        self._set_busy(True)

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                self._set_busy(False)
                self.window.show_message(
                    tr("Drill not stopped: {error}").format(error=error), False
                )
                return
            self.marks.set_drill(None)
            self._reshade()
            self.window.show_message(
                tr("Training drill ended: report in {path}").format(path=result.json_path), True
            )
            self._set_busy(False)
            self.sigDrillChanged.emit()

        run_in_pool(lambda: self.service.stop(session, lang), done)

    def close(self) -> None:
        """Window closing: a running drill is stopped by the system and its report kept."""
        if self.service.active is None:
            return
        from hmi.core.users import Role, Session

        try:
            self.service.stop(Session("system", Role.ADMIN, origin="system"), i18n().lang)
        except Exception as exc:  # noqa: BLE001 - closing must go on
            self.window.show_message(str(exc), False)


def install_training(win: Any, simulator: Any = None) -> TrainingController:
    """Give ``win`` its training controller (``simulator``: the SimulatorThread, None on real devices)."""
    ctl = TrainingController(win, simulator)
    win.training = ctl
    return ctl
