"""Checks of a station config against the gas codes that a station engineer reviews first.

- Standard volumes: the product (and Chinese practice) uses base conditions of 101.325 kPa and
  20 °C. Such volumes are Sm³; "Nm³" means 0 °C in Chinese usage (a 7 % misreading), so a
  unit spelled Nm³ is refused.
- Combustible-gas detectors (unit ``%LEL``, GB/T 50493): level 1 at no more than 25 %LEL,
  level 2 at no more than 50 %LEL, and both alarms latch until an operator resets them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

Path_ = tuple[Any, ...]

#: base conditions of every standard volume in the product
BASE_PRESSURE_KPA = 101.325
BASE_TEMPERATURE_C = 20.0
#: the unit of a volume at those conditions
STD_VOLUME_UNIT = "Sm³"

_NORMAL_CUBIC = re.compile(r"\bN\s*m(³|3|\^3)", re.IGNORECASE)
LEL_UNIT = "%LEL"
#: GB/T 50493 upper bounds of the two alarm levels, %LEL
LEVEL1_MAX = 25.0
LEVEL2_MAX = 50.0


def base_conditions_text(lang: str = "en") -> str:
    """The base conditions of standard volumes in words (printed on reports)."""
    if lang.startswith("zh"):
        return (
            f"标准参比条件：{BASE_PRESSURE_KPA:g} kPa、{BASE_TEMPERATURE_C:g} °C"
            f"（{STD_VOLUME_UNIT}，非0 °C的Nm³）"
        )
    return (
        f"Base conditions: {BASE_PRESSURE_KPA:g} kPa, {BASE_TEMPERATURE_C:g} °C "
        f"({STD_VOLUME_UNIT}, not 0 °C Nm³)"
    )


def is_normal_cubic(unit: str) -> bool:
    """True for a unit spelled Nm³ / Nm3 / Nm^3 (per hour or not)."""
    return bool(_NORMAL_CUBIC.search(unit))


def gas_code_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """(path, message) for every volume unit spelled Nm³ and every gas alarm off GB/T 50493."""
    out: list[tuple[Path_, str]] = []
    for i, t in enumerate(cfg.tags):
        if is_normal_cubic(t.unit):
            fixed = _NORMAL_CUBIC.sub("Sm³", t.unit)
            out.append(
                (
                    ("tags", i, "unit"),
                    f"{t.unit!r}: volumes at the product's base conditions ({BASE_TEMPERATURE_C:g} "
                    f"°C, {BASE_PRESSURE_KPA:g} kPa) are {STD_VOLUME_UNIT}; Nm³ means 0 °C "
                    f"(7 % apart). Write {fixed!r}",
                )
            )
        if t.unit == LEL_UNIT:
            out.extend(_detector_problems(i, t))
    return out


def _detector_problems(i: int, t: Any) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    for j, a in enumerate(t.alarms):
        if a.kind not in ("H", "HH"):
            continue
        level, bound = (1, LEVEL1_MAX) if a.kind == "H" else (2, LEVEL2_MAX)
        if not a.latched:
            out.append(
                (
                    ("tags", i, "alarms", j, "latched"),
                    f"gas level {level} alarm must latch until reset (GB/T 50493): add "
                    "'latched: true'",
                )
            )
        if a.limit is not None and a.limit > bound:
            out.append(
                (
                    ("tags", i, "alarms", j, "limit"),
                    f"gas level {level} at {a.limit:g} %LEL is above GB/T 50493's {bound:g} %LEL",
                )
            )
    return out
