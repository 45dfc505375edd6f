"""Key figures of a station, picked from its birth metadata rather than from tag names.

* **send-out flow**: a flow metric (unit ``Sm³/h``/``Nm³/h``/``m³/h`` or an instrument tag
  starting ``FI``/``FT``/``FIT``/``FIQ``) in area ``outlet``; failing that, the sum of the
  flow metrics of area ``metering`` (the meter runs).
* **outlet pressure**: a pressure metric (unit ``MPa``/``kPa``/``bar``/``Pa`` or an
  instrument tag starting ``PI``/``PT``/``PIT``) in area ``outlet``.

Totalizers (``Sm³`` without ``/h``) are never taken as a flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from hmi.core.fleet.station import Metric, Station

FLOW_UNITS = ("sm³/h", "sm3/h", "nm³/h", "nm3/h", "m³/h", "m3/h", "scmh", "kg/h")
PRESSURE_UNITS = ("mpa", "kpa", "bar", "pa", "mbar")
FLOW_PREFIXES = ("FIT", "FIQ", "FI", "FT")
PRESSURE_PREFIXES = ("PIT", "PI", "PT")


@dataclass(slots=True, frozen=True)
class Figure:
    """One key figure: value, unit, quality and the limits it is shown against."""

    key: str
    value: float | None
    unit: str
    quality: int
    low: float | None = None
    high: float | None = None
    limit_state: str = ""
    source: str = ""  # the metric(s) it comes from


def _is_flow(m: Metric) -> bool:
    unit = m.unit.strip().lower()
    if unit:
        return unit in FLOW_UNITS
    return m.instrument.upper().startswith(FLOW_PREFIXES)


def _is_pressure(m: Metric) -> bool:
    unit = m.unit.strip().lower()
    if unit:
        return unit in PRESSURE_UNITS
    return m.instrument.upper().startswith(PRESSURE_PREFIXES)


def _numeric(m: Metric) -> float | None:
    v = m.value
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _single(key: str, m: Metric) -> Figure:
    return Figure(
        key,
        _numeric(m) if m.quality == 192 else None,
        m.unit,
        m.quality,
        m.low,
        m.high,
        m.limit_state(),
        m.name,
    )


def _pick(candidates: list[Metric]) -> Metric | None:
    """Prefer a metric with an instrument tag, then the shortest name (the header, not a run)."""
    if not candidates:
        return None
    return sorted(candidates, key=lambda m: (not m.instrument, len(m.name), m.name))[0]


def send_out_flow(st: Station) -> Figure | None:
    """The station's send-out flow, or None when its metadata names none."""
    tags = st.tag_metrics()
    outlet = _pick([m for m in tags if m.area == "outlet" and _is_flow(m)])
    if outlet is not None:
        return _single("flow", outlet)
    runs = [m for m in tags if m.area == "metering" and _is_flow(m)]
    return _metering_total(runs) if runs else None


def _metering_total(runs: list[Metric]) -> Figure:
    """The sum of the meter runs: GOOD when every run is, UNCERTAIN when some are."""
    good = [m for m in runs if m.quality == 192 and _numeric(m) is not None]
    total = sum(_numeric(m) or 0.0 for m in good) if good else None
    quality = 192 if len(good) == len(runs) else (64 if good else 0)
    high = sum(m.high for m in runs if m.high is not None) or None
    return Figure(
        "flow", total, runs[0].unit, quality, 0.0, high, "", ",".join(m.name for m in runs)
    )


def outlet_pressure(st: Station) -> Figure | None:
    """The station's outlet pressure, or None when its metadata names none."""
    m = _pick([m for m in st.tag_metrics() if m.area == "outlet" and _is_pressure(m)])
    return _single("pressure", m) if m is not None else None


def key_figures(st: Station) -> dict[str, Figure]:
    """Every key figure the station's metadata allows (``flow``, ``pressure``)."""
    out: dict[str, Figure] = {}
    for fn in (send_out_flow, outlet_pressure):
        f = fn(st)
        if f is not None:
            out[f.key] = f
    return out
