"""Make docs/reports/daily-report-sample.pdf (and .png) from simulated demo-station history.

    .venv/bin/python docs/reports/make_sample.py

Fifteen days of the demo station (the simulator's model through the real tag table into
a real history.db, alarms through the real alarm engine), with a burner trip in the
afternoon of the reported day and meter 1's totalizer rolling over that day; the
send-out forecast is issued hourly over the last two days so its accuracy is filled in.
Needs pdftoppm (poppler-utils) for the PNG.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hmi.config import load_station  # noqa: E402
from hmi.core.analytics.accuracy import ForecastStore  # noqa: E402
from hmi.core.analytics.metering import MeteringReports, day_bounds  # noqa: E402
from hmi.core.analytics.reportfile import write_json  # noqa: E402
from hmi.core.analytics.reportpdf import write_pdf  # noqa: E402
from hmi.core.analytics.sendout import SendOutForecaster  # noqa: E402
from hmi.core.analytics.synthetic import backfill  # noqa: E402
from hmi.core.historian import Historian  # noqa: E402

DAYS = 15
PER_DAY_M1 = 290_000.0  # about what meter run 1 passes on a winter day of the demo


def main() -> None:
    out = ROOT / "docs" / "reports"
    tmp = Path(tempfile.mkdtemp(prefix="gas-hmi-sample-"))
    st = tmp / "demo_city_gate"
    shutil.copytree(ROOT / "station_configs" / "demo_city_gate", st)
    if (st / "system.yaml.pending").exists():
        (st / "system.yaml.pending").rename(st / "system.yaml")
    cfg = load_station(st)
    tz = ZoneInfo(cfg.station.timezone)
    day = dt.datetime.now(tz).date() - dt.timedelta(days=2)
    d0, d1 = day_bounds(day, cfg.station.timezone)
    start = d0 - (DAYS - 1) * 86400.0
    data = tmp / "data"
    data.mkdir()
    hist = Historian(data / "history.db")
    alarms = data / "alarms.db"
    params = {"total_start": [2.0**32 - (DAYS - 1) * PER_DAY_M1 - 120_000.0, 87_654_321.0]}
    print(f"simulating {DAYS} days up to {day} ...", flush=True)
    m = backfill(
        cfg, hist, start, d0 + 14.5 * 3600 - start, seed=21, params=params, alarms_db=alarms
    )
    m.set_scenario("heater_trip")  # the burner trips at 14:30
    m = backfill(cfg, hist, 0, 1800.0, model=m, alarms_db=alarms)
    m.set_scenario("normal")
    m = backfill(cfg, hist, 0, 900.0, model=m, alarms_db=alarms)
    m.write("heater.burner.reset", 1.0)  # the operator resets it after 45 minutes
    backfill(cfg, hist, 0, d1 + 3600.0 - (d0 + 15.25 * 3600), model=m, alarms_db=alarms)

    store = ForecastStore(data / "analytics.db")
    fc = SendOutForecaster(cfg, hist, store)
    fc.retrain(d0 - 86400.0 + 60.0)
    res = None
    for k in range(49):
        res = fc.issue(d0 - 86400.0 + k * 3600.0 + 60.0)
    assert res is not None
    summary = {
        "issued": res.issued,
        "mape": res.mape.get("regression"),
        "baseline_mape": res.mape.get("seasonal_naive"),
        "next_24h": float(res.forecast[1:25].sum()),
    }
    report = MeteringReports(cfg, hist, alarms).daily(day, now=d1 + 600.0, forecast=summary)
    store.close()
    hist.close()
    pdf = out / "daily-report-sample.pdf"
    write_pdf(report, pdf, "zh_CN")
    write_json(report, out / "daily-report-sample.json")  # also what goes upstream
    print(
        f"wrote {pdf}: {report['station_volume']:,.0f} Sm3, rollovers {[x['rollovers'] for x in report['meters']]}, "
        f"{report['alarms']['raised']} alarms, MAPE {summary['mape']:.1f} % vs {summary['baseline_mape']:.1f} %"
    )
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf), str(out / "daily-report-sample")],
        check=True,
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
