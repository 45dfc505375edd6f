"""Map-free network view: the stations in pipeline order (dispatch config), upstream first.

One row per supply (a station that is fed from no listed station, in pipeline order),
followed by the stations it feeds (``feeds_from``), depth first; a station whose feed is
not the box just before it names its feed. Stations the config does not list come last,
one row, without arrows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from hmi.core.fleet import StationSummary
from hmi.core.fleet.config import DispatchConfig
from hmi.ui.dispatch.fmt import value_text
from hmi.ui.i18n import i18n, tr
from hmi.ui.theme import restyle


def network_rows(cfg: DispatchConfig, ids: list[str]) -> list[list[tuple[str, str]]]:
    """Rows of (station, the station it is fed from or "") for the known ``ids``."""
    known = set(ids)
    listed = [e for e in cfg.pipeline if e.station in known]
    feed = {e.station: e.feeds_from for e in listed if e.feeds_from in known}
    children: dict[str, list[str]] = {}
    for e in listed:
        if e.station in feed:
            children.setdefault(feed[e.station], []).append(e.station)
    rows: list[list[tuple[str, str]]] = []
    placed: set[str] = set()

    def walk(sid: str, row: list[tuple[str, str]]) -> None:
        placed.add(sid)
        row.append((sid, feed.get(sid, "")))
        for child in children.get(sid, []):
            if child not in placed:
                walk(child, row)

    for e in listed:
        if e.station not in feed and e.station not in placed:
            rows.append([])
            walk(e.station, rows[-1])
    rest = [(sid, "") for sid in sorted(known) if sid not in placed]  # unlisted, or a loop
    return rows + ([rest] if rest else [])


class NetworkView(QWidget):
    """Boxes joined by arrows, one row per supply, in the order of ``pipeline``."""

    sigOpen = Signal(str)

    def __init__(self, cfg: DispatchConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkView")
        self.setProperty("role", "page")
        self.cfg = cfg
        self.grid = QGridLayout(self)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.boxes: dict[str, tuple[QFrame, QLabel]] = {}
        self.order: list[str] = []
        self.feeds: dict[str, str] = {}

    def _name(self, s: StationSummary) -> str:
        return self.cfg.display_name(s.station_id, i18n().lang, s.name)

    def refresh(self, summaries: list[StationSummary]) -> None:
        """Pipeline rows first, then the unlisted stations by id."""
        by_id = {s.station_id: s for s in summaries}
        rows = network_rows(self.cfg, sorted(by_id))
        ids = [sid for row in rows for sid, _f in row]
        self.feeds = {sid: f for row in rows for sid, f in row}
        if ids != self.order:
            boxes = [b for b, _l in self.boxes.values()]
            while self.grid.count():
                taken = self.grid.takeAt(0)
                w = taken.widget() if taken is not None else None
                if w is not None and w not in boxes:
                    w.deleteLater()
            for r, row in enumerate(rows):
                for c, (sid, fed_from) in enumerate(row):
                    if sid not in self.boxes:
                        box = QFrame(self)
                        box.setProperty("role", "card")
                        box.setFixedWidth(200)
                        label = QLabel(box)
                        label.setWordWrap(True)
                        QVBoxLayout(box).addWidget(label)
                        box.mousePressEvent = lambda _e, s=sid: self.sigOpen.emit(s)  # type: ignore[method-assign,misc]
                        self.boxes[sid] = (box, label)
                    if c:
                        arrow = QLabel("→" if fed_from else "", self)
                        self.grid.addWidget(arrow, r, c * 2 - 1)
                    self.grid.addWidget(self.boxes[sid][0], r, c * 2)
            self.order = ids
        self._texts(by_id, rows)

    def _texts(self, by_id: dict[str, StationSummary], rows: list[list[tuple[str, str]]]) -> None:
        for row in rows:
            before = ""
            for sid, fed_from in row:
                s = by_id[sid]
                box, label = self.boxes[sid]
                state = tr("online") if s.online else tr("OFFLINE")
                p = s.figures.get("pressure")
                pressure = f"{value_text(p.value)} {p.unit}" if p else ""
                feed = ""
                if fed_from and fed_from != before:
                    feed = "<br>" + tr("fed from {station}").format(
                        station=self._name(by_id[fed_from])
                    )
                label.setText(f"<b>{self._name(s)}</b><br>{state}<br>{pressure}{feed}")
                top = min((k for k, n in s.alarms_by_priority.items() if n), default=0)
                restyle(box, alarm=str(top))
                restyle(label, quality="good" if s.online else "bad")
                before = sid
