"""The daily report in Sm³ and GJ per meter run and station, with its base conditions and a
configurable gas day (08:00 contracts), from a real history.db; the PDF prints them."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hmi.config import ConfigError, load_station
from hmi.core.analytics.metering import MeteringReports, day_bounds
from hmi.core.analytics.reportpdf import write_pdf
from hmi.core.historian import Historian

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"
DAY = dt.date(2026, 3, 4)  # a fixed past day: no dependence on today's date


def _station(tmp_path: Path, gas_day: str) -> Path:
    st = tmp_path / "st"
    shutil.copytree(DEMO, st)
    f = st / "system.yaml"
    text = f.read_text(encoding="utf-8")
    assert 'gas_day_start: "00:00"' in text
    f.write_text(text.replace('gas_day_start: "00:00"', f'gas_day_start: "{gas_day}"'), "utf-8")
    return st


def test_gas_day_from_0800_energy_in_gj_and_base_conditions(tmp_path):
    cfg = load_station(_station(tmp_path, "08:00"))
    start, end = day_bounds(DAY, cfg.station.timezone, dt.time(8))
    assert end - start == 86400.0
    assert dt.datetime.fromtimestamp(start, dt.UTC).hour == 0  # 08:00 in Shanghai
    hist = Historian(tmp_path / "history.db")
    try:
        t = np.arange(start - 7200.0, end + 7200.0, 60.0)
        hours = (t - start) / 3600.0
        hist.bulk_load("m1.total.std", t, 5_000_000.0 + 1000.0 * hours)  # 1,000 Sm³/h
        hist.bulk_load("m2.total.std", t, 7_000_000.0 + 500.0 * hours)  # 500 Sm³/h
        # calorific value 38 MJ/Sm³ in the first half of the gas day, 36 in the second
        hist.bulk_load("gc.hs", t, np.where(t < start + 43200.0, 38.0, 36.0))
        rep = MeteringReports(cfg, hist).daily(DAY, now=end + 3600.0)
    finally:
        hist.close()
    assert rep["gas_day"]["start"] == "08:00" and rep["gas_day"]["from"].startswith(
        "2026-03-04T08:00"
    )
    assert rep["hours"][0]["label"] == "08:00" and len(rep["hours"]) == 24
    base = rep["base_conditions"]
    assert (base["pressure_kpa"], base["temperature_c"], base["unit"]) == (101.325, 20.0, "Sm³")
    assert "20 °C" in base["text"]["en"] and "20 °C" in base["text"]["zh"]
    meters = {m["id"]: m for m in rep["meters"]}
    assert meters["m1"]["volume"] == pytest.approx(24_000.0, abs=0.5)
    assert meters["m1"]["energy"] == pytest.approx(12 * 38.0 + 12 * 36.0, abs=0.1)  # GJ
    assert meters["m2"]["energy"] == pytest.approx((12 * 38.0 + 12 * 36.0) / 2, abs=0.1)
    assert rep["hours"][0]["meters"]["m1"]["energy"] == pytest.approx(38.0, abs=0.01)
    assert rep["hours"][0]["station_energy"] == pytest.approx(57.0, abs=0.01)
    assert rep["station_volume"] == pytest.approx(36_000.0, abs=1.0)
    assert rep["station_energy"] == pytest.approx(1332.0, abs=0.2)
    pdf = tmp_path / "r.pdf"
    write_pdf(rep, pdf, "zh_CN")
    # pdftotext: poppler-utils, a test package of the Makefile
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "1,332" in text and "36,000" in text and "GJ" in text and "Sm³" in text
    assert "101.325 kPa" in text and "20 °C" in text and "2026-03-04 08:00" in text
    assert "Nm³" not in text.replace("非0 °C的Nm³", "").replace("not 0 °C Nm³", "")


def test_gas_day_start_must_be_a_time(tmp_path):
    with pytest.raises(ConfigError, match=r"system\.yaml:\d+: analytics\.report\.gas_day_start"):
        load_station(_station(tmp_path, "8 o'clock"))
