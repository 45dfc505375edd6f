"""A manual-entry tag's faceplate: value entry with a comment, confirmed, checked and audited.

The runtime is the UI tests' table runtime (tag table, alarm engine, users, audit and the
real command service on an acquisition loop; no devices), on the demo config plus one
manual-entry tag on a calc device.
"""

from __future__ import annotations

from typing import Any

import pytest

from hmi.config.schema import StationConfig
from tests.helpers import wait_until
from tests.ui.conftest import TableRuntime, open_window

TAG = "gauge.pg101"


@pytest.fixture
def manual_window(hmi_app: Any, demo_cfg: StationConfig, tmp_path, qtbot) -> Any:
    data = demo_cfg.model_dump()
    if not any(d["protocol"] == "calc" for d in data["devices"]):
        data["devices"].append({"id": "calc", "protocol": "calc"})
    calc_id = next(d["id"] for d in data["devices"] if d["protocol"] == "calc")
    data["tags"].append(
        {
            "name": TAG,
            "device": calc_id,
            "access": "manual",
            "unit": "MPa",
            "range": [0.0, 1.6],
            "precision": 3,
            "label": {"en": "Inlet gauge PG-101 (local)", "zh": "进站就地压力表PG-101"},
            "area": "inlet",
        }
    )
    rt = TableRuntime(StationConfig.model_validate(data), tmp_path)
    try:
        for win in open_window(rt, qtbot):
            yield win, rt
    finally:
        rt.close()


def test_manual_entry_goes_through_the_command_service_with_its_comment(manual_window, qtbot):
    win, rt = manual_window
    fp = win.open_faceplate(TAG)
    assert fp.entry is not None and fp.comment is not None
    assert "manual entry" in fp.props.text()
    fp.confirm = lambda dialog: True
    fp.comment.setText("read on site at 10:05")
    fp.entry.setText("0.352")
    fp._write_entry()
    wait_until(lambda: rt.writes, 10, what="entry sent")
    assert rt.writes == [(TAG, 0.352, "operator")]
    qtbot.waitUntil(lambda: "written and read back" in fp.result.text(), timeout=10000)
    rows = [r for r in rt.audit_rows("write") if r.target == TAG]
    assert [r.result for r in rows] == ["requested", "success"]
    assert all(r.details["comment"] == "read on site at 10:05" for r in rows)
    assert rows[-1].details["action"] == "manual_entry"
    fp.entry.setText("2.5")  # outside 0-1.6 MPa: refused before anything is sent
    fp._write_entry()
    assert len(rt.writes) == 1
