"""Physics-flavoured formulas of a city gate station (pure functions, SI-ish station units).

Pressures are gauge MPa unless a name says ``abs``; temperatures are degrees Celsius;
flows are standard m3/h (base conditions 101.325 kPa and 20 degC, the Chinese
reference conditions) unless a name says ``line``. These are plausible
approximations for a demonstration, not a replacement for AGA 8 or a flow computer.
"""

from __future__ import annotations

import math

#: atmospheric / base pressure, MPa absolute
P_ATM = 0.101325
#: base temperature, K (20 degC)
T_BASE_K = 293.15
#: Joule-Thomson cooling of natural gas, degC per bar of pressure drop
JT_C_PER_BAR = 0.4
#: density of the gas at base conditions, kg/m3
RHO_BASE = 0.72
#: specific heat of the gas at station pressure, kJ/(kg K)
CP_GAS = 2.6

# daily demand shape (fraction of the daily mean) at each hour, weekday and weekend:
# morning and evening peaks, a night trough, a later and flatter weekend morning.
_WEEKDAY = (0.55, 0.50, 0.48, 0.48, 0.52, 0.65, 0.95, 1.30, 1.35, 1.15, 1.05, 1.10,
            1.15, 1.00, 0.95, 0.95, 1.05, 1.30, 1.45, 1.40, 1.20, 1.00, 0.80, 0.65)  # fmt: skip
_WEEKEND = (0.58, 0.52, 0.50, 0.49, 0.50, 0.58, 0.75, 0.95, 1.15, 1.25, 1.20, 1.20,
            1.25, 1.10, 1.00, 1.00, 1.05, 1.25, 1.40, 1.40, 1.25, 1.05, 0.85, 0.68)  # fmt: skip


class OU:
    """Ornstein-Uhlenbeck noise: wanders around zero with std ``sd`` and time constant ``tau``."""

    def __init__(self, sd: float, tau: float, x0: float = 0.0) -> None:
        self.sd, self.tau, self.x = sd, tau, x0

    def step(self, dt: float, z: float) -> float:
        """Advance by ``dt`` seconds with a standard-normal draw ``z``; return the value."""
        a = min(dt / self.tau, 1.0)
        self.x += -self.x * a + self.sd * math.sqrt(2.0 * a) * z
        return self.x


def abs_p(p_gauge: float) -> float:
    """Gauge MPa -> absolute MPa."""
    return p_gauge + P_ATM


#: Z - 1 = sum of c * p^i * (100/T)^j over (i, j): a least-squares fit of AGA8-92DC
#: (GB/T 17747.2) for the demo pipeline gas (drivers/sim/chromatograph.py COMPONENTS), within
#: 0.08 % of it from 0.09 to 8 MPa and -20 to 50 degC (tests/unit/test_aga8.py), so that the
#: simulated flow computers correct the way a real one does and the HMI's AGA8 cross-check
#: of them stays inside its 0.5 % band on a normal day
_Z_TERMS = (
    (1, 0, 0.12733872), (1, 1, -1.475492), (1, 2, 6.6797767), (1, 3, -14.21788),
    (1, 4, 10.520322), (2, 0, -0.053899826), (2, 1, 0.65554894), (2, 2, -3.0077802),
    (2, 3, 6.2197138), (2, 4, -4.9223199), (3, 0, 0.00016629457), (3, 1, -0.0012844837),
    (3, 2, 0.0025543339),
)  # fmt: skip


def z_factor(p_abs: float, t_c: float) -> float:
    """Compressibility of the demo gas (AGA8-92DC fit; about 0.907 at 4 MPa, 10 degC)."""
    tau = 100.0 / (t_c + 273.15)
    return 1.0 + sum(c * p_abs**i * tau**j for i, j, c in _Z_TERMS)


#: compressibility at base conditions (101.325 kPa, 20 degC)
Z_BASE = z_factor(P_ATM, T_BASE_K - 273.15)


def std_from_line(q_line: float, p_gauge: float, t_c: float) -> float:
    """Flow at line conditions -> standard flow: Vb = Vm (Pm/Pb) (Tb/Tm) (Zb/Zm)."""
    pa = abs_p(p_gauge)
    return q_line * (pa / P_ATM) * (T_BASE_K / (t_c + 273.15)) * (Z_BASE / z_factor(pa, t_c))


def line_from_std(q_std: float, p_gauge: float, t_c: float) -> float:
    """Standard flow -> flow at line conditions (inverse of :func:`std_from_line`)."""
    factor = std_from_line(1.0, p_gauge, t_c)
    return q_std / factor if factor > 0 else 0.0


def jt_cooling(dp_mpa: float) -> float:
    """Temperature drop (degC) of gas throttled across ``dp_mpa``."""
    return JT_C_PER_BAR * max(dp_mpa, 0.0) * 10.0


def demand_shape(hour: float, weekend: bool) -> float:
    """Fraction of the daily mean demand at local ``hour`` (0-24, linear between hours)."""
    table = _WEEKEND if weekend else _WEEKDAY
    h = hour % 24.0
    i = int(h)
    frac = h - i
    return table[i] * (1.0 - frac) + table[(i + 1) % 24] * frac


def ambient_temperature(hour: float, mean: float, amplitude: float) -> float:
    """Air temperature: coldest near 05:00, warmest near 14:00."""
    # a skewed day: the warm half lasts from 05:00 to 14:00 rising, then a longer cooling night
    h = hour % 24.0
    if 5.0 <= h < 14.0:
        phase = math.pi * (h - 5.0) / 9.0 - math.pi / 2.0
    else:
        phase = math.pi / 2.0 + math.pi * ((h - 14.0) % 24.0) / 15.0
    return mean + amplitude * math.sin(phase)


def heater_effectiveness(q_std: float) -> float:
    """Share of the bath-to-gas temperature difference the gas picks up in the heater coil."""
    ntu = 0.5 * (25000.0 / max(q_std, 500.0)) ** 0.4
    return 1.0 - math.exp(-ntu)


def gas_heat_kw(q_std: float, t_in: float, t_out: float) -> float:
    """Heat taken by the gas stream warming from ``t_in`` to ``t_out``, kW."""
    return q_std * RHO_BASE / 3600.0 * CP_GAS * (t_out - t_in)


def regulator_capacity(p_in: float, p_out: float, coefficient: float) -> float:
    """Largest standard flow through a fully open regulator run (choked-flow flavoured)."""
    pin, pout = abs_p(max(p_in, 0.0)), abs_p(max(p_out, 0.0))
    if pin <= pout:
        return 0.0
    return coefficient * pin * math.sqrt(1.0 - (pout / pin) ** 2)
