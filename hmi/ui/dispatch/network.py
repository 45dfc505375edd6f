"""Map-free network view: the stations in pipeline order (dispatch config), upstream first."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from hmi.core.fleet import StationSummary
from hmi.core.fleet.config import DispatchConfig
from hmi.ui.dispatch.fmt import value_text
from hmi.ui.i18n import i18n, tr
from hmi.ui.theme import restyle


class NetworkView(QWidget):
    """Boxes joined by arrows, six a row, in the order of ``pipeline``."""

    sigOpen = Signal(str)
    PER_ROW = 6

    def __init__(self, cfg: DispatchConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkView")
        self.setProperty("role", "page")
        self.cfg = cfg
        self.grid = QGridLayout(self)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.boxes: dict[str, tuple[QFrame, QLabel]] = {}
        self.order: list[str] = []

    def _name(self, s: StationSummary) -> str:
        for e in self.cfg.pipeline:
            if e.station == s.station_id and e.name:
                return e.name.get("zh" if i18n().is_zh else "en") or s.name
        return s.name

    def refresh(self, summaries: list[StationSummary]) -> None:
        """Pipeline order first, then the unlisted stations by id."""
        ordered = sorted(summaries, key=lambda s: (self.cfg.order(s.station_id), s.station_id))
        ids = [s.station_id for s in ordered]
        if ids != self.order:
            while self.grid.count():
                taken = self.grid.takeAt(0)
                w = taken.widget() if taken is not None else None
                if w is not None and w not in [b for b, _l in self.boxes.values()]:
                    w.deleteLater()
            for i, sid in enumerate(ids):
                if sid not in self.boxes:
                    box = QFrame(self)
                    box.setProperty("role", "card")
                    box.setFixedWidth(170)
                    label = QLabel(box)
                    QVBoxLayout(box).addWidget(label)
                    box.mousePressEvent = lambda _e, s=sid: self.sigOpen.emit(s)  # type: ignore[method-assign,misc]
                    self.boxes[sid] = (box, label)
                row, col = divmod(i, self.PER_ROW)
                self.grid.addWidget(self.boxes[sid][0], row, col * 2)
                if col < self.PER_ROW - 1 and i < len(ids) - 1:
                    self.grid.addWidget(QLabel("→", self), row, col * 2 + 1)
            self.order = ids
        for s in ordered:
            box, label = self.boxes[s.station_id]
            state = tr("online") if s.online else tr("OFFLINE")
            p = s.figures.get("pressure")
            pressure = f"{value_text(p.value)} {p.unit}" if p else ""
            label.setText(f"<b>{self._name(s)}</b><br>{state}<br>{pressure}")
            top = min((k for k, n in s.alarms_by_priority.items() if n), default=0)
            restyle(box, alarm=str(top))
            restyle(label, quality="good" if s.online else "bad")
