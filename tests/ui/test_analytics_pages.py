"""Forecast page, daily report page and the overview's forecast card on a runtime with analytics.

The runtime is the devices-less TableRuntime with a real Historian (history.db in
tmp_path) pre-filled with ten days of generated send-out history
(:func:`hmi.ui.screenshot.prefill_history`, minute readings written with
``Historian.bulk_load``) and the real AnalyticsService on its own thread; the past two
days of hourly forecasts are issued at once so the day-ahead MAPE is scored.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.ui.conftest import open_window


@pytest.fixture(scope="module")
def history_days() -> int:
    """Days of generated history."""
    return 10


@pytest.fixture
def analytics_rt(table_runtime: Any, history_days: int) -> Any:
    """The table runtime with a pre-filled historian and a running AnalyticsService (forecast issued)."""
    from hmi.core.analytics import AnalyticsService
    from hmi.core.historian import Historian
    from hmi.ui.screenshot import backdate_forecasts, prefill_history

    rt = table_runtime
    rt.historian = Historian(rt.data_dir / "history.db")
    # no system device: the table runtime drops the figures pushed as tags
    rt.volumes = prefill_history(rt, days=history_days)
    rt.analytics = AnalyticsService(rt.cfg, rt.data_dir, rt.historian, rt)
    rt.analytics.start()
    try:
        backdate_forecasts(rt.analytics, hours=48).result(60)
        yield rt
    finally:
        rt.analytics.stop()
        rt.historian.close()


@pytest.fixture
def awin(hmi_app: Any, analytics_rt: Any, qtbot: Any) -> Any:
    """The main window on the analytics runtime (see conftest.open_window)."""
    yield from open_window(analytics_rt, qtbot)


def test_forecast_page_and_overview_card_show_the_forecast(
    awin: Any, analytics_rt: Any, qtbot: Any
) -> None:
    res = analytics_rt.analytics.forecast()
    assert res is not None and not res.note, (
        res and res.note
    )  # the regression, not the baseline fallback
    assert set(res.mape) == {"regression", "seasonal_naive"}
    next24 = float(np.sum(res.forecast[1:25]))
    # overview card
    card = awin.overview.forecast_card
    assert card is not None
    card.poll()
    qtbot.waitUntil(lambda: card.result is res, timeout=10000)
    assert card.value.text() == f"{next24:,.0f} Sm³"
    assert f"{res.mape['regression']:.1f} %" in card.mape.text()
    # forecast page
    awin.navigate("forecast")
    page = awin.forecast
    qtbot.waitUntil(lambda: page.result is res and page.table.rowCount() > 0, timeout=10000)
    assert page.cards["next24"][1].text() == f"{next24:,.0f} Sm³"
    assert page.cards["mape"][1].text() == f"{res.mape['regression']:.1f} %"
    x, y = page.c_forecast.getData()
    assert len(x) == len(res.forecast) and np.allclose(y, res.forecast)
    xa, ya = page.c_actual.getData()
    assert len(xa) >= 48 and np.nanmax(ya) > 0  # about three days of actual send-out
    assert len(page.c_baseline.getData()[0]) == len(res.baseline)
    n_warn = len(analytics_rt.analytics.warnings())
    assert page.table.rowCount() == n_warn > 0
    labels = {page.table.item(r, 0).text() for r in range(n_warn)}
    assert "Station mass balance" in labels
    # the header's navigation reaches both pages
    awin.header.nav["report"].click()
    assert awin.pages.currentWidget() is awin.report


def test_report_page_builds_and_exports(
    awin: Any, analytics_rt: Any, qtbot: Any, tmp_path: Path
) -> None:
    tz = ZoneInfo(analytics_rt.cfg.station.timezone)
    day = dt.datetime.now(tz).date() - dt.timedelta(days=1)
    page = awin.report
    awin.navigate("report")
    with qtbot.waitSignal(page.sigReport, timeout=30000) as blocker:
        page.build(day)
    report = blocker.args[0]
    assert report is not None and report["date"] == day.isoformat()
    expected = sum(analytics_rt.volumes.values())
    assert report["station_volume"] == pytest.approx(expected, abs=2.0 * len(analytics_rt.volumes))
    total_cell = page.summary.item(page.summary.rowCount() - 1, 1).text()
    assert float(total_cell.replace(",", "")) == pytest.approx(report["station_volume"], abs=1.0)
    assert page.hours.rowCount() == len(report["hours"]) == 24
    m1 = next(m for m in report["meters"] if m["id"] == "m1")
    assert page.summary.item(0, 3).text() == f"{m1['pressure']['avg']:,.3f}"
    # exports
    out_csv, out_pdf = tmp_path / "out" / "day.csv", tmp_path / "out" / "day.pdf"
    for path in (out_csv, out_pdf):
        with qtbot.waitSignal(page.sigExported, timeout=30000) as ex:
            page.export(path)
        assert ex.args == [str(path), ""]
    rows = list(csv.reader(out_csv.open(encoding="utf-8-sig")))
    total = next(r for r in rows if r and r[0] == "total")
    assert float(total[-2]) == pytest.approx(report["station_volume"])
    assert out_pdf.read_bytes()[:5] == b"%PDF-" and out_pdf.stat().st_size > 5000
    # a failed export says why
    blocker_dir = tmp_path / "file"
    blocker_dir.write_text("x")
    with qtbot.waitSignal(page.sigExported, timeout=30000) as ex:
        page.export(blocker_dir / "day.csv")
    assert ex.args[1] and "Export failed" in page.status.text() and "day.csv" in page.status.text()
