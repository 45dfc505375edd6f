"""Fleet overview: one tile per station, most severe first (ISA-101: gray unless abnormal)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from hmi.core.fleet import StationSummary
from hmi.ui.dispatch.fmt import clock, value_text
from hmi.ui.i18n import N_, tr
from hmi.ui.theme import restyle

FIGURE_TEXT = {"flow": N_("Send-out flow"), "pressure": N_("Outlet pressure")}
LIMIT_ALARM = {"HH": "1", "LL": "1", "H": "2", "L": "2", "": "0"}


class StationTile(QFrame):
    """One station: name, state chip, key figures against their limits, alarm counts."""

    sigOpen = Signal(str)  # station id

    def __init__(self, station_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station_id = station_id
        self.setObjectName(f"tile_{station_id}")
        self.setProperty("role", "card")
        self.setFixedWidth(270)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        top = QHBoxLayout()
        self.title = QLabel(station_id, self)
        self.title.setProperty("role", "cardTitle")
        self.state = QLabel(self)
        self.state.setProperty("role", "chip")
        top.addWidget(self.title, 1)
        top.addWidget(self.state)
        lay.addLayout(top)
        self.figures: dict[str, tuple[QLabel, QLabel]] = {}
        for key in FIGURE_TEXT:
            row = QHBoxLayout()
            name = QLabel(self)
            name.setProperty("role", "dim")
            val = QLabel("—", self)
            val.setObjectName(f"fig_{key}")
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            row.addWidget(name, 1)
            row.addWidget(val)
            lay.addLayout(row)
            self.figures[key] = (name, val)
        self.alarms = QLabel(self)
        self.alarms.setObjectName("tileAlarms")
        self.footer = QLabel(self)
        self.footer.setProperty("role", "dim")
        lay.addWidget(self.alarms)
        lay.addWidget(self.footer)

    def mousePressEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        """Open the station page."""
        self.sigOpen.emit(self.station_id)

    def update_from(self, s: StationSummary) -> None:
        """Show one summary."""
        self.title.setText(s.name)
        if not s.online:
            text, state = tr("OFFLINE"), "bad"
        elif s.stale:
            text, state = tr("STALE"), "warn"
        else:
            text, state = tr("online"), "ok"
        self.state.setText(text)
        restyle(self.state, state=state)
        for key, (name, val) in self.figures.items():
            name.setText(tr(FIGURE_TEXT[key]))
            f = s.figures.get(key)
            if f is None:
                val.setText(tr("not configured"))
                restyle(val, quality="good", alarm="0")
                continue
            shown = value_text(f.value) if f.value is not None else "—"
            val.setText(f"{shown} {f.unit}" + (f"  {f.limit_state}" if f.limit_state else ""))
            q = "good" if f.quality == 192 and s.online else ("uncertain" if f.quality else "bad")
            restyle(val, quality=q, alarm=LIMIT_ALARM.get(f.limit_state, "0"))
        counts = "  ".join(f"P{p}: {n}" for p, n in sorted(s.alarms_by_priority.items()))
        self.alarms.setText(counts + (f"  ({tr('unacked')} {s.unacked})" if s.unacked else ""))
        top = min((p for p, n in s.alarms_by_priority.items() if n), default=0)
        restyle(self, alarm=str(top), unack="1" if s.unacked else "0")
        devices = f"{tr('devices')} {s.devices_up}/{s.devices}" if s.devices else ""
        backlog = f"  {tr('outbox')} {s.outbox_depth}" if s.outbox_depth else ""
        self.footer.setText(f"{tr('last seen')} {clock(s.last_seen)}  {devices}{backlog}")


class FleetOverview(QScrollArea):
    """Every station as a tile, re-sorted by severity on every refresh."""

    sigOpen = Signal(str)
    TILE = 282  # tile width + spacing, px

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fleetOverview")
        self.setWidgetResizable(True)
        self.inner = QWidget(self)
        self.inner.setProperty("role", "page")
        self.grid = QGridLayout(self.inner)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWidget(self.inner)
        self.tiles: dict[str, StationTile] = {}
        self.order: list[str] = []
        self.columns = 0

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        """Re-flow the tiles to the new width."""
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._layout(self.order)

    def refresh(self, summaries: list[StationSummary]) -> None:
        """Update the tiles; re-lay them out when the severity order changed."""
        for s in summaries:
            tile = self.tiles.get(s.station_id)
            if tile is None:
                tile = self.tiles[s.station_id] = StationTile(s.station_id, self.inner)
                tile.sigOpen.connect(self.sigOpen)
            tile.update_from(s)
        self._layout([s.station_id for s in summaries])

    def _layout(self, order: list[str]) -> None:
        columns = max(1, (self.viewport().width() - 16) // self.TILE)
        if order == self.order and columns == self.columns:
            return
        self.order, self.columns = order, columns
        for i, sid in enumerate(order):
            self.grid.addWidget(self.tiles[sid], i // columns, i % columns)
