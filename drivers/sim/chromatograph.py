"""A process gas chromatograph on the station inlet: composition, calorific value, relative
density, H2S and water dew point, as its Modbus map publishes them.

Calorific value and relative density follow from the composition the way GB/T 11062 (ISO 6976)
computes them: ideal molar superior calorific values at 25 °C combustion, volumes at the
Chinese base conditions (20 °C, 101.325 kPa), divided by the mixture's compression factor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivers.sim.physics import OU

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

#: component -> (mole % of the demo pipeline gas, molar superior CV kJ/mol, molar mass g/mol,
#: summation factor at 20 °C)
COMPONENTS: dict[str, tuple[float, float, float, float]] = {
    "ch4": (92.60, 891.51, 16.043, 0.0436),
    "c2h6": (3.60, 1562.14, 30.069, 0.0894),
    "c3h8": (0.80, 2221.10, 44.096, 0.1288),
    "c4": (0.30, 2879.76, 58.122, 0.1783),
    "n2": (1.50, 0.0, 28.013, 0.0173),
    "co2": (1.20, 0.0, 44.010, 0.0728),
}
MOLAR_VOLUME = 8.314462618 * 293.15 / 101.325  # L/mol, ideal gas at 20 °C, 101.325 kPa
AIR_MOLAR_MASS = 28.9626
Z_AIR = 0.99963


def properties(x: dict[str, float]) -> tuple[float, float, float]:
    """(superior calorific value MJ/Sm³, relative density, Z) of mole fractions ``x``."""
    total = sum(x.values())
    frac = {k: v / total for k, v in x.items()}
    z = 1.0 - sum(frac[k] * COMPONENTS[k][3] for k in frac) ** 2
    hs = sum(frac[k] * COMPONENTS[k][1] for k in frac) / MOLAR_VOLUME / z
    rd = sum(frac[k] * COMPONENTS[k][2] for k in frac) / AIR_MOLAR_MASS * Z_AIR / z
    return hs, rd, z


class Chromatograph:
    """Composition drifting slowly around the pipeline gas; one analysis every cycle."""

    CYCLE = 240.0  # s per analysis (the published figures change once a cycle)

    def __init__(self, m: StationModel) -> None:
        self.m = m
        # its own random stream: adding the analyser does not change the rest of the station
        self.rng = np.random.default_rng(m.seed + 17_000)
        self.drift = {k: OU(0.15 if k == "ch4" else 0.03, 6 * 3600.0) for k in COMPONENTS}
        self.h2s = OU(0.3, 3600.0)
        self.wdp = OU(1.0, 3600.0)
        self.next_at = -1e12

    def step(self, dt: float) -> None:
        """Advance one step; publish a new analysis at the end of each cycle."""
        m, v = self.m, self.m.v
        z = self.rng.standard_normal(len(COMPONENTS) + 2)
        x = {
            k: max(base[0] + self.drift[k].step(dt, float(z[i])), 0.0)
            for i, (k, base) in enumerate(COMPONENTS.items())
        }
        h2s = 2.0 + self.h2s.step(dt, float(z[-2]))
        wdp = -18.0 + self.wdp.step(dt, float(z[-1]))
        if m.t < self.next_at:
            return
        self.next_at = m.t + self.CYCLE
        total = sum(x.values())
        for k, val in x.items():
            v[f"gc.{k}"] = 100.0 * val / total
        hs, rd, _z = properties(x)
        v["gc.hs"] = hs
        v["gc.rd"] = rd
        v["gc.h2s"] = max(h2s, 0.0)
        v["gc.wdp"] = wdp
        v["gc.ok"] = 1.0
