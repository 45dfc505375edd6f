"""The overview's safety tile: gas detection, ESD and slam-shuts, power and UPS at a glance.

What the night operator checks first, from the station config: every ``%LEL`` tag is a gas
detector (its fault flag is the tag of the same name ending ``.fault``), the ESD is
``esd.open`` / ``esd.closed``, each regulator run of ``protection:`` has its slam-shut at
``<run>.ssv.open`` / ``.closed``, power is ``power.mains_ok``, ``ups.on_battery``,
``ups.battery``. A value that is not GOOD is shown as unknown, never as a plausible state.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from hmi.ui.i18n import N_, tr
from hmi.ui.live import LiveData
from hmi.ui.texts import instrument_text, run_title
from hmi.ui.theme import restyle

SLAM_SHUT = N_("Slam-shut {n}")

GOOD = 192
LEVEL1, LEVEL2 = "H", "HH"


class SafetyCard(QFrame):
    """Gas detection (highest %LEL, level-1/2 counts, faults), ESD/slam-shut states, power."""

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setObjectName("safetyCard")
        # takes the width the other cards leave (its lines wrap), so 1366 px still fits
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.live = live
        cfg = live.cfg
        names = cfg.tag_map()
        self.detectors = [t for t in cfg.tags if t.unit == "%LEL"]
        self.faults = {
            t.name: t.name.rsplit(".", 1)[0] + ".fault"
            for t in self.detectors
            if t.name.rsplit(".", 1)[0] + ".fault" in names
        }
        self.limits: dict[str, dict[str, float]] = {
            t.name: {a.kind: float(a.limit) for a in t.alarms if a.limit is not None}
            for t in self.detectors
        }
        self.valves = [(N_("ESD"), "esd")] if "esd.closed" in names else []
        self.valves += [  # named for the operator (1#切断阀 / Slam-shut 1), not reg1
            (SLAM_SHUT, f"{r.id}.ssv") for r in cfg.protection.runs if f"{r.id}.ssv.closed" in names
        ]
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(2)
        self.title = QLabel(self)
        self.title.setProperty("role", "cardTitle")
        self.gas = QLabel(self)
        self.gas.setObjectName("gasTop")
        self.gas.setProperty("role", "kpiSmall")
        self.gas_counts = QLabel(self)
        self.gas_counts.setObjectName("gasCounts")
        self.valve_label = QLabel(self)
        self.valve_label.setObjectName("valveStates")
        self.power = QLabel(self)
        self.power.setObjectName("powerState")
        for w in (self.title, self.gas, self.gas_counts, self.valve_label, self.power):
            w.setWordWrap(True)
            w.setMinimumWidth(60)
            lay.addWidget(w)
        lay.addStretch(1)
        live.sigTags.connect(lambda _u: self.refresh())
        self.refresh()

    # ------------------------------------------------------------------ values
    def _good(self, name: str) -> float | None:
        try:
            v, q, _ts, _r = self.live.value(name)
        except KeyError:
            return None
        if q < GOOD or isinstance(v, str) or not math.isfinite(float(v)):
            return None
        return float(v)

    def gas_figures(self) -> dict[str, Any]:
        """Highest reading (detector, %LEL), counts at level 1 / level 2, faulted, unknown."""
        top: tuple[str, float] | None = None
        l1 = l2 = faulted = unknown = 0
        for t in self.detectors:
            fault = self._good(self.faults[t.name]) if t.name in self.faults else 0.0
            if fault:
                faulted += 1
                continue
            v = self._good(t.name)
            if v is None:
                unknown += 1
                continue
            lim = self.limits[t.name]
            l2 += v >= lim.get(LEVEL2, math.inf)
            l1 += lim.get(LEVEL1, math.inf) <= v < lim.get(LEVEL2, math.inf)
            if top is None or v > top[1]:
                top = (t.name, v)
        return {"top": top, "level1": l1, "level2": l2, "faulted": faulted, "unknown": unknown}

    def valve_state(self, prefix: str) -> str:
        """'open', 'closed', 'moving' or 'unknown' of a valve with .open / .closed switches."""
        o, c = self._good(prefix + ".open"), self._good(prefix + ".closed")
        if o is None or c is None:
            return "unknown"
        return "closed" if c >= 0.5 else "open" if o >= 0.5 else "moving"

    # ------------------------------------------------------------------ text
    def refresh(self) -> None:
        """Texts and alarm coding from the live values."""
        self.title.setText(tr("Gas detection · shut-off valves · power"))
        g = self.gas_figures()
        if g["top"] is None:
            self.gas.setText(tr("Gas: no detector reading"))
        else:
            tag = self.live.cfg.tag(g["top"][0])
            self.gas.setText(
                tr("Highest {v} %LEL at {where}").format(
                    v=f"{g['top'][1]:.1f}",
                    where=instrument_text(tag, tag.name.split(".")[0].upper()),
                )
            )
        self.gas_counts.setText(
            tr("Level 1: {l1} · Level 2: {l2} · Faulted: {f}").format(
                l1=g["level1"], l2=g["level2"], f=g["faulted"] + g["unknown"]
            )
        )
        worst = "1" if g["level2"] else "2" if g["level1"] else "3" if g["faulted"] else "0"
        restyle(self.gas, alarm=worst)
        states = {
            "open": tr("open"),
            "closed": tr("closed"),
            "moving": tr("moving"),
            "unknown": tr("unknown"),
        }
        parts = [
            f"{run_title(p.split('.')[0], name) if name == SLAM_SHUT else tr(name)}: "
            f"{states[self.valve_state(p)]}"
            for name, p in self.valves
        ]
        self.valve_label.setText("   ".join(parts))
        shut = any(self.valve_state(p) != "open" for _n, p in self.valves)
        restyle(self.valve_label, alarm="2" if shut else "0")
        mains, on_batt, batt = (
            self._good("power.mains_ok"),
            self._good("ups.on_battery"),
            self._good("ups.battery"),
        )
        if mains is None:
            text, bad = tr("Power: unknown"), True
        elif mains >= 0.5 and not on_batt:
            text, bad = tr("Mains power OK"), False
        else:
            text, bad = tr("On UPS battery"), True
        if batt is not None:
            text += f" · UPS {batt:.0f} %"
        self.power.setText(text)
        restyle(self.power, alarm="2" if bad else "0")
        restyle(self, alarm=worst if worst != "0" else ("2" if shut or bad else "0"))
