"""What the runtime hands each driver (hmi.core.driver_setup), on the demo city gate station."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.config import load_station
from hmi.core.driver_setup import driver_params, point_specs, poll_period
from hmi.core.tagtable import TagTable

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"


@pytest.fixture(scope="module")
def cfg():
    return load_station(DEMO)


def test_point_specs_follow_the_tag_table_and_the_poll_groups(cfg):
    table = TagTable(cfg.tags, [poll_period(cfg, t) for t in cfg.tags])
    hoc = point_specs(cfg, table.index, "hoc")
    assert [p.name for p in hoc] == [t.name for t in cfg.tags_of("hoc")]
    assert all(table.index[p.name] == p.index for p in hoc)
    groups = cfg.device("hoc").poll_groups
    assert {p.poll_period for p in hoc} <= set(groups.values())
    assert any(p.poll_period == groups["slow"] for p in hoc)  # the slow group is used
    plc = point_specs(cfg, table.index, "plc")
    writable = {p.name for p in plc if p.writable}
    assert writable == {t.name for t in cfg.tags_of("plc") if t.access == "rw"} != set()
    assert point_specs(cfg, table.index, "no-such-device") == []


def test_an_unknown_poll_group_reads_every_second(cfg):
    tag = cfg.tags_of("plc")[0].model_copy(update={"poll": "no-such-group"})
    assert poll_period(cfg, tag) == 1.0


def test_opc_ua_devices_get_their_pki_folder_and_certificates_next_to_the_config(cfg, tmp_path):
    hoc = cfg.device("hoc").model_copy(
        update={"password_secret": "", "certificate": "pki/client.der", "private_key": "/abs.pem"}
    )
    params = driver_params(cfg, tmp_path, hoc)
    assert params["pki_dir"] == str(tmp_path / "pki" / "hoc")
    assert params["certificate"] == str(Path(cfg.source_dir) / "pki" / "client.der")
    assert params["private_key"] == "/abs.pem"  # absolute paths stay as they are
    assert "password" not in params and params["endpoint"] == hoc.endpoint
    plc = driver_params(cfg, tmp_path, cfg.device("plc"))
    assert "pki_dir" not in plc and plc["port"] == cfg.device("plc").port
