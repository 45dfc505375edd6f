"""Trend screenshot of a normal 24 h day of the simulated city gate (burner cycle, demand profile).

The station model runs a weekday at speed (model only, ~10 s for the day) and its values are
stored once a minute as history of the demo station's tags; the HMI's trends page then shows
the last 24 h (and the last 4 h) of the bath temperature, the burner and the station flow,
as an operator would see them after a day of operation.
``TZ=Asia/Shanghai QT_QPA_PLATFORM=offscreen .venv/bin/python -m tools.sim_day_trend [OUT_DIR]``
writes ``sim_day_trend[_4h]_<lang>_1920x1080.png`` for en and zh_CN (default docs/screenshots);
the trend's time axis is the computer's local time, so TZ puts it on the station's clock.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hmi import paths
from hmi.config import load_station

PENS = ("heater.water.temperature", "heater.burner.on", "outlet.flow")
STEP = 60.0  # s between stored samples


def day_of_history(cfg: Any, end: float, seed: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(ts, values) of every pen over the 24 h before ``end``, from the station model."""
    from drivers.sim.model import StationModel

    params = {**cfg.protection.sim_params(), **cfg.simulation.model_params()}
    start = end - 86400.0
    m = StationModel(seed=seed, start_time=start, params=params)
    ts = start + STEP * np.arange(int(86400.0 / STEP))
    out = {n: np.empty(len(ts)) for n in PENS}
    on = np.zeros(len(ts))
    for i in range(len(ts)):
        fired = 0.0
        for _ in range(int(STEP / 5.0)):  # the burner's share of the minute, not a sample
            m.step(5.0)
            fired += m.get("heater.burner.on")
        on[i] = fired / (STEP / 5.0)
        for n in PENS:
            out[n][i] = m.get(n)
    out["heater.burner.on"] = np.round(on)  # a discrete pen: on for most of the minute
    return {n: (ts, v) for n, v in out.items()}


def shoot(out: Path, lang: str) -> list[Path]:
    """The day and its last 4 hours in ``lang``."""
    from hmi.ui.app import show_main_window
    from hmi.ui.screenshot import grab, live_station, pump

    cfg = load_station(paths.station_configs_dir() / "demo_city_gate")
    with live_station(cfg, "normal", seed=2, speed=1.0) as (rt, sim):
        now = time.time()
        for name, (ts, values) in day_of_history(cfg, now - 90.0).items():
            rt.historian.bulk_load(name, ts, values)
        win = show_main_window(rt, lang=lang, theme="light", horn=False, simulator=sim)
        win.resize(1920, 1080)
        try:
            win.navigate("trends")
            page = win.trends
            tags = cfg.tag_map()
            page.view.set_pens([tags[n] for n in PENS])
            written = []
            for span, suffix in ((86400.0, ""), (4 * 3600.0, "_4h")):
                page.view.set_span(span)
                page.save_group("day" + (suffix or "_24h"))
                pump(6.0)
                path = out / f"sim_day_trend{suffix}_{lang}_1920x1080.png"
                grab(win).save(str(path))
                written.append(path)
            return written
        finally:
            win.close()


def main(argv: list[str]) -> int:
    """Write the pictures (into argv[0], default docs/screenshots); print their paths."""
    from hmi.ui.screenshot import write_pictures

    return write_pictures(shoot, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
