"""Trends page and faceplate trend: pens, live appends, history envelope and gaps, cursor,
CSV/PNG export, saved groups. History comes from a real historian (history.db in tmp_path,
filled with ``bulk_load``); live values from the table runtime's real tag table."""

from __future__ import annotations

import csv
import math
import time
from typing import Any

import numpy as np
import pytest

from tests.ui.conftest import open_window

H = 3600.0
SPAN = 26 * H  # hours of 1 s history per tag


@pytest.fixture
def history(tmp_path: Any) -> Any:
    """26 h of 1 s data for outlet.pressure (20 min BAD 6 h before the end) and inlet.pressure."""
    from hmi.core.historian import Historian

    end = math.floor(time.time() / H) * H - H  # a whole hour in the past: fixed buckets
    ts = np.arange(end - SPAN, end, 1.0)
    rng = np.random.default_rng(3)
    out = 0.40 + 0.01 * np.sin(2 * np.pi * ts / 600.0) + rng.normal(0.0, 0.002, len(ts))
    q = np.full(len(ts), 192, np.uint8)
    bad = (ts >= end - 6 * H) & (ts < end - 6 * H + 1200)
    out[bad] = np.nan
    q[bad] = 0
    inlet = 3.7 + 0.05 * np.cos(2 * np.pi * ts / 3000.0)
    h = Historian(tmp_path / "history.db")
    h.bulk_load("outlet.pressure", ts, out, q)
    h.bulk_load("inlet.pressure", ts, inlet)
    info = {
        "end": end,
        "ts": ts,
        "outlet": out,
        "inlet": inlet,
        "bad": (end - 6 * H, end - 6 * H + 1200),
    }
    yield h, info
    h.close()


@pytest.fixture
def twin(hmi_app: Any, table_runtime: Any, history: Any, qtbot: Any) -> Any:
    """Main window on the table runtime with the filled historian, trends page shown."""
    table_runtime.historian = history[0]
    for win in open_window(table_runtime, qtbot, user=None):
        win.navigate("trends")
        yield win


def _show(qtbot: Any, plot: Any, start: float, end: float) -> None:
    """Show a past range and wait until its history is drawn."""
    plot.set_range(start, end)
    rid = plot.fetcher._rid
    qtbot.waitUntil(lambda: plot.last_rid >= rid and not plot.fetcher.busy, timeout=15000)


def test_pens_add_and_remove_with_one_axis_per_unit(twin: Any) -> None:
    from hmi.ui.trends.picker import TagPicker

    page = twin.trends
    view = page.view
    assert page.current_group() == "pressures"
    assert view.names[:3] == ["inlet.pressure", "filters.outlet.pressure", "outlet.pressure"]
    assert view.plot.axes.units == ["MPa"]
    assert view.table.rowCount() == len(view.names)
    picker = TagPicker(twin.live.cfg.tags, view.names, 12 - len(view.names), page)
    assert picker.filter("odor dose") >= 2
    assert all("odor" in n for n in picker.shown())
    assert "outlet.pressure" not in [t.name for t in picker.tags]  # already a pen
    picker.select(["odor.dose", "odor.rate"])
    assert view.add_pens(picker.chosen()) == 2
    picker.deleteLater()
    assert view.plot.axes.units == ["MPa", "mg/m³", "g/h"]  # pens of one unit share an axis
    assert len(view.plot.axes.boxes) == 3
    assert view.plot.pens["odor.rate"].box is view.plot.axes.box("g/h")
    assert view.table.rowCount() == 7
    assert view.remove_pen("odor.rate") and view.remove_pen("odor.dose")
    assert view.plot.axes.units == ["MPa"] and view.table.rowCount() == 5
    assert not view.remove_pen("odor.rate")


def test_value_axes_group_the_digits_of_large_values(twin: Any) -> None:
    from hmi.ui.trends.axes import ValueAxis

    view = twin.trends.view
    assert all(isinstance(ax, ValueAxis) for ax in view.plot.axes.axes)
    ax = view.plot.axes.axes[0]
    assert ax.tickStrings([12000.0, 12500.0], 1.0, 500.0) == ["12,000", "12,500"]
    assert ax.tickStrings([2000.0, 2000.5], 1.0, 0.5) == ["2,000.0", "2,000.5"]
    assert ax.tickStrings([0.4, 0.45], 1.0, 0.05) == ["0.40", "0.45"]  # small: as before
    assert ax.tickStrings([-25000.0], 1.0, 5000.0) == ["-25,000"]


def test_realtime_appends_live_values_and_scrolls(twin: Any, table_runtime: Any) -> None:
    plot = twin.trends.view.plot
    assert plot.follow
    pen = plot.pens["outlet.pressure"]
    before = pen.series.live_count
    table_runtime.set({"outlet.pressure": 0.411})
    twin.live.refresh()
    table_runtime.set({"outlet.pressure": 0.422})
    twin.live.refresh()
    assert pen.series.live_count == before + 2
    assert pen.series.latest()[1] == pytest.approx(0.422)
    plot.redraw()
    x, y = pen.curve.getData()
    assert y[-1] == pytest.approx(0.422)
    x0, x1 = plot.view_range()
    assert abs(x1 - time.time()) < 5 and x1 - x0 == pytest.approx(plot.window)
    hx, hy = pen.hold_line.getData()  # the value is held on to now
    assert hy[0] == pytest.approx(0.422) and hx[1] >= x[-1]
    table_runtime.set_bad(["outlet.pressure"], "PLC not answering")
    twin.live.refresh()
    plot.redraw()
    _x, y = pen.curve.getData()
    assert math.isnan(y[-1])  # BAD breaks the line
    hx = pen.hold_line.getData()[0]
    assert hx is None or len(hx) == 0  # nothing held after a BAD value


def test_historical_range_shows_the_min_max_envelope(twin: Any, history: Any, qtbot: Any) -> None:
    _h, info = history
    plot = twin.trends.view.plot
    end = info["end"]
    _show(qtbot, plot, end - 24 * H, end)
    assert not plot.follow
    pen = plot.pens["outlet.pressure"]
    s = pen.series
    assert s.source == "1min" and s.bucket == pen.width >= 60.0  # rollups, aligned buckets
    ex, _w, lo, hi = s.envelope()
    assert len(ex) > 300 and pen.envelope.points == len(ex)
    rows = s.rows()
    ts, vals = info["ts"], info["outlet"]
    checked = 0
    for t0, vmin, vmax, count, bad in zip(
        rows["t0"], rows["min"], rows["max"], rows["count"], rows["bad"], strict=True
    ):
        if count <= 1 or bad or not end - 24 * H <= t0 < end - s.bucket:
            continue
        sel = (ts >= t0) & (ts < t0 + s.bucket)
        assert vmin == np.nanmin(vals[sel]) and vmax == np.nanmax(vals[sel])
        checked += 1
    assert checked > 300
    assert np.nanmax(hi - lo) > 0.005  # the noise and the 10-minute wave are in the envelope


def test_bad_period_renders_as_a_gap(twin: Any, history: Any, qtbot: Any) -> None:
    _h, info = history
    plot = twin.trends.view.plot
    b0, b1 = info["bad"]
    _show(qtbot, plot, info["end"] - 24 * H, info["end"])
    pen = plot.pens["outlet.pressure"]
    assert pen.curve.opts["connect"] == "finite"
    x, y = pen.series.line()
    w = pen.series.bucket
    inside = (x > b0 + w) & (x < b1 - w)
    assert not np.isfinite(y[inside]).any()
    before, after = (
        np.flatnonzero((x < b0) & np.isfinite(y))[-1],
        np.flatnonzero((x > b1) & np.isfinite(y))[0],
    )
    assert np.isnan(y[before + 1 : after]).any()  # no line across the outage
    ex, _w, _lo, _hi = pen.series.envelope()
    assert not ((ex > b0) & (ex < b1 - w)).any()  # no bar inside the outage
    inlet_x, inlet_y = plot.pens["inlet.pressure"].series.line()
    assert np.isfinite(
        inlet_y[(inlet_x > b0) & (inlet_x < b1)]
    ).all()  # only the failed tag has a gap
    # zoomed in: raw samples, the line stops at the first BAD sample
    _show(qtbot, plot, b0 - 300, b0 + 300)
    assert pen.series.bucket == 0.0 and pen.series.source == "raw"
    x, y = pen.series.line()
    assert np.isfinite(y[x < b0]).all() and np.isnan(y[(x >= b0) & (x <= b0 + 300)]).all()


def test_cursor_reads_out_every_pen(twin: Any, history: Any, qtbot: Any) -> None:
    _h, info = history
    view = twin.trends.view
    plot = view.plot
    b0, b1 = info["bad"]
    _show(qtbot, plot, b0 - 1800, b1 + 1800)
    view.bar.cursor_button.setChecked(True)
    assert plot.time_cursor.visible
    t = b0 - 900.5
    plot.show_cursor(t)
    texts = view.table.cursor_texts()
    value, quality = texts["outlet.pressure"]
    expected = info["outlet"][int(np.searchsorted(info["ts"], t, side="right")) - 1]
    assert quality == "GOOD" and value.endswith("MPa")
    assert float(value.split()[0]) == pytest.approx(expected, abs=0.0011)
    assert texts["inlet.pressure"][1] == "GOOD"
    assert texts["reg1.outlet.pressure"] == ("", "no data")  # nothing stored for it
    plot.show_cursor(b0 + 600)
    texts = view.table.cursor_texts()
    assert texts["outlet.pressure"] == ("BAD", "BAD")
    assert texts["inlet.pressure"][1] == "GOOD"
    view.bar.cursor_button.setChecked(False)
    assert not plot.time_cursor.visible and view.table.cursor_texts()["outlet.pressure"] == ("", "")


def test_csv_export_holds_the_visible_data(
    twin: Any, history: Any, qtbot: Any, tmp_path: Any
) -> None:
    _h, info = history
    view = twin.trends.view
    b0, _b1 = info["bad"]
    _show(qtbot, view.plot, b0 - 120, b0 + 60)  # raw samples: 2 min good, 1 min BAD
    out = tmp_path / "trend.csv"
    n = view.export_csv(out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n
    outlet = [r for r in rows if r["tag"] == "outlet.pressure"]
    assert len(outlet) == 181 and {r["label"] for r in outlet} == {"Outlet pressure"}
    good = [r for r in outlet if float(r["timestamp"]) < b0]
    assert len(good) == 120 and all(r["quality"] == "GOOD" and r["unit"] == "MPa" for r in good)
    k = int(np.searchsorted(info["ts"], float(good[5]["timestamp"])))
    assert float(good[5]["value"]) == info["outlet"][k]
    bad = [r for r in outlet if float(r["timestamp"]) >= b0]
    assert len(bad) == 61 and all(r["quality"] == "BAD" and r["value"] == "" for r in bad)
    assert len([r for r in rows if r["tag"] == "inlet.pressure"]) == 181
    png = tmp_path / "trend.png"
    assert view.export_png(png)
    from PySide6.QtGui import QImage

    from tests.ui.imaging import content

    img = QImage(str(png))
    assert img.width() == view.plot.width()
    assert img.height() == view.plot.height()
    content(img).assert_drawn(min_colours=8)


def test_groups_save_load_and_delete(twin: Any, table_runtime: Any, qtbot: Any) -> None:
    from hmi.ui.trends.groups import GroupStore

    page = twin.trends
    view = page.view
    view.set_pens([twin.live.cfg.tag(n) for n in ("outlet.pressure", "odor.dose")])
    view.set_span(8 * H)
    assert page.save_group("night shift")
    path = table_runtime.data_dir / "trend_groups.json"
    assert path.is_file()
    again = GroupStore(twin.live.cfg.trend_groups, table_runtime.data_dir)
    g = again.get("night shift")
    assert g is not None and g.pens == ["outlet.pressure", "odor.dose"] and g.range == "8h"
    assert not page.save_group("pressures")  # a config group cannot be overwritten
    assert "station config" in view.message.text()
    assert page.show_group("flows")
    assert (
        view.names == ["m1.flow.std", "m2.flow.std", "outlet.flow"] and view.plot.window == 24 * H
    )
    assert page.show_group("night shift")
    assert view.names == ["outlet.pressure", "odor.dose"] and view.plot.window == 8 * H
    assert page.current_group() == "night shift" and page.b_delete.isEnabled()
    assert page.delete_group("night shift")
    assert GroupStore(twin.live.cfg.trend_groups, table_runtime.data_dir).get("night shift") is None
    path.write_text("{not json", encoding="utf-8")
    broken = GroupStore(twin.live.cfg.trend_groups, table_runtime.data_dir)
    assert "unreadable" in broken.error and broken.groups()[0].name == "pressures"
    assert (table_runtime.data_dir / "trend_groups.json.broken").is_file()


def test_zoom_refetches_finer_data(twin: Any, history: Any, qtbot: Any) -> None:
    _h, info = history
    plot = twin.trends.view.plot
    end = info["end"]
    _show(qtbot, plot, end - 24 * H, end)
    coarse = plot.pens["outlet.pressure"].width
    rid = plot.fetcher._rid
    plot.plotItem.vb.setXRange(end - 3 * H, end - 2 * H, padding=0)  # as the mouse wheel does
    qtbot.waitUntil(
        lambda: (
            plot.fetcher._rid > rid and not plot.fetcher.busy and plot.last_rid == plot.fetcher._rid
        ),
        timeout=15000,
    )
    fine = plot.pens["outlet.pressure"]
    assert fine.width < coarse and fine.series.bucket < 60 and fine.series.start <= end - 3 * H


def test_language_switch_translates_the_trend(twin: Any) -> None:
    from hmi.ui.i18n import i18n

    view = twin.trends.view
    assert view.bar.state.text() == "LIVE"
    twin.toggle_language()
    try:
        assert i18n().lang == "zh_CN"
        assert view.bar.state.text() == "实时"
        assert twin.trends.group.currentText() == "站内压力"
        assert view.table.item(0, 0).text() == "进站压力"
    finally:
        twin.toggle_language()


def test_faceplate_trend_has_history_limits_and_live(
    twin: Any, history: Any, table_runtime: Any, qtbot: Any
) -> None:
    fp = twin.open_faceplate("outlet.pressure")
    trend = fp.trend
    assert trend is not None and trend.compact and trend.names == ["outlet.pressure"]
    plot = trend.plot
    assert plot.bands is not None and sorted(plot.bands.limits) == [0.3, 0.35, 0.41, 0.425]
    end = history[1]["end"]
    _show(qtbot, plot, end - 7 * 86400, end)
    s = plot.pens["outlet.pressure"].series
    assert s.source == "1min" and len(s.envelope()[0]) > 50
    trend.bar.cursor_button.setChecked(True)
    plot.show_cursor(end - 3 * H)
    assert (
        trend.readout.isVisible()
        and "MPa" in trend.readout.text()
        and "GOOD" in trend.readout.text()
    )
    plot.resume()
    table_runtime.set({"outlet.pressure": 0.433})
    twin.live.refresh()
    assert s.latest()[1] == pytest.approx(0.433)
    fp.close()
