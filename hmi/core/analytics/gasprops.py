"""Gas compressibility for the PTZ cross-check (not a replacement for the flow computer's AGA 8).

Z is computed with the Dranchuk & Abou-Kassem (1975) fit of the Standing-Katz chart,
from pseudo-critical properties of the gas by Sutton's (1985) correlation of its
relative density. Against AGA 8 / GB/T 17747 it is typically within about 1 % at city
gate conditions (2-6 MPa, -5..25 °C), which sets the floor of a sensible cross-check
tolerance. Volume correction: Vb = Vm · (Pm/Pb) · (Tb/Tm) · (Zb/Zm).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

_A = (0.3265, -1.0700, -0.5339, 0.01569, -0.05165, 0.5475, -0.7361, 0.1844, 0.1056, 0.6134, 0.7210)
_PSI_TO_MPA = 0.00689475729
_RANKINE_TO_K = 5.0 / 9.0


def pseudo_critical(relative_density: float) -> tuple[float, float]:
    """(T_pc in K, p_pc in MPa abs) of a natural gas of the given relative density (Sutton)."""
    g = relative_density
    t_pc = (169.2 + 349.5 * g - 74.0 * g * g) * _RANKINE_TO_K
    p_pc = (756.8 - 131.0 * g - 3.6 * g * g) * _PSI_TO_MPA
    return t_pc, p_pc


def z_factor(
    p_abs_mpa: np.ndarray | float, t_c: np.ndarray | float, relative_density: float = 0.6
) -> np.ndarray:
    """Compressibility Z at absolute pressure (MPa) and temperature (°C); vectorized."""
    t_pc, p_pc = pseudo_critical(relative_density)
    ppr = np.asarray(p_abs_mpa, dtype=np.float64) / p_pc
    tpr = (np.asarray(t_c, dtype=np.float64) + 273.15) / t_pc
    a = _A
    c1 = a[0] + a[1] / tpr + a[2] / tpr**3 + a[3] / tpr**4 + a[4] / tpr**5
    c2 = a[5] + a[6] / tpr + a[7] / tpr**2
    c3 = a[8] * (a[6] / tpr + a[7] / tpr**2)
    z = np.ones(np.broadcast(ppr, tpr).shape)
    # fixed-point iteration on the reduced density converges in a few steps at these pressures
    for _ in range(60):
        rr = 0.27 * ppr / (z * tpr)
        zn = (
            1.0
            + c1 * rr
            + c2 * rr**2
            - c3 * rr**5
            + a[9] * (1.0 + a[10] * rr**2) * (rr**2 / tpr**3) * np.exp(-a[10] * rr**2)
        )
        if np.all(np.abs(zn - z) < 1e-10):
            z = zn
            break
        z = zn
    return z


#: Z at (absolute pressure MPa, temperature °C), vectorized
ZFunction = Callable[[np.ndarray | float, np.ndarray | float], np.ndarray]


def standard_volume(
    line: np.ndarray,
    p_gauge_mpa: np.ndarray,
    t_c: np.ndarray,
    relative_density: float = 0.6,
    base_kpa: float = 101.325,
    base_c: float = 20.0,
    atmosphere_kpa: float = 101.325,
    z_of: ZFunction | None = None,
) -> np.ndarray:
    """Line volume (or flow) -> base conditions: Vb = Vm (Pm/Pb) (Tb/Tm) (Zb/Zm).

    ``z_of`` gives Z (e.g. AGA8-92DC from a composition, :mod:`hmi.core.analytics.aga8`);
    without it Z is this module's correlation of ``relative_density``.
    """
    if z_of is None:
        z_of = partial(z_factor, relative_density=relative_density)
    pm = np.asarray(p_gauge_mpa, dtype=np.float64) + atmosphere_kpa / 1000.0
    pb = base_kpa / 1000.0
    tm = np.asarray(t_c, dtype=np.float64) + 273.15
    tb = base_c + 273.15
    zm = z_of(pm, t_c)
    zb = z_of(pb, base_c)
    out: np.ndarray = np.asarray(line, dtype=np.float64) * (pm / pb) * (tb / tm) * (zb / zm)
    return out
