"""``gas-hmi --self-test`` from a source checkout: every check can pass and each can fail.

Real station configs, real SQLite files, a real file keyring (the ``keyring_file``
fixture), Qt started offscreen in a real child process. The bundle's self-test is run by
tests/integration/test_bundle.py.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from hmi.cli import main
from hmi.cli import selftest as cli_selftest
from hmi.core.secrets import set_secret
from hmi.selftest import Check, SelfTest, report, run_qt_probe

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "station_configs" / "demo_city_gate"
EXPECTED = [
    "resources",
    "config",
    "drivers",
    "devices",
    "databases",
    "data dir",
    "keyring",
    "qt:offscreen",
    "fonts",
    "translations",
]


def test_device_prerequisites_fail_the_self_test_and_name_the_device(keyring_file, tmp_path):
    """An unresolvable host, a missing serial port, a refused server certificate: FAIL."""
    st = tmp_path / "st"
    shutil.copytree(DEMO, st)
    dev = (st / "devices.yaml").read_text(encoding="utf-8")
    (st / "devices.yaml").write_text(
        dev.replace("host: 127.0.0.1", "host: no-such-plc.invalid", 1), encoding="utf-8"
    )
    set_secret("demo_city_gate", "hoc_opcua", "pw")
    data = tmp_path / "data"
    rejected = data / "pki" / "hoc" / "rejected"
    rejected.mkdir(parents=True)
    (rejected / "hoc-controller.der").write_bytes(b"not checked here")
    test = SelfTest(st, data, gui=False)
    by = {c.name: c for c in test.run()}
    assert not by["devices"].ok
    assert "host 'no-such-plc.invalid' does not resolve" in by["devices"].detail
    assert "hoc: server certificate refused (hoc-controller.der)" in by["devices"].detail
    assert not test.passed


def test_demo_station_passes_every_check(keyring_file, tmp_path):
    set_secret("demo_city_gate", "hoc_opcua", "pw")
    test = SelfTest(DEMO, tmp_path / "data", gui=False)
    checks = test.run()
    assert [c.name for c in checks] == EXPECTED
    assert test.passed, [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    by = {c.name: c for c in checks}
    from hmi.config import load_station

    cfg = load_station(DEMO)
    assert f"{len(cfg.tags)} tags, {len(cfg.devices)} devices" in by["config"].detail
    from drivers.base import DRIVERS

    assert all(protocol in by["drivers"].detail for protocol in DRIVERS), by["drivers"].detail
    created = by["databases"].detail.split(" in a scratch folder")[0]
    assert all(name in created for name in ("alarms.db", "history.db", "outbox.db", "users.db")), (
        created
    )
    assert "1 secret(s) named by the config, all stored" in by["keyring"].detail
    assert by["fonts"].detail.startswith("Chinese renders with ")
    assert not (tmp_path / "data").exists()  # the self-test writes nothing into the data folder


def test_existing_databases_are_checked_read_only(keyring_file, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    con = sqlite3.connect(data / "history.db")
    con.execute("CREATE TABLE samples (tag INTEGER, ts INTEGER, value REAL)")
    con.commit()
    con.close()
    (data / "alarms.db").write_bytes(b"this is not a database" * 100)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    test = SelfTest(DEMO, data, gui=False)
    test.check_config()
    test.check_databases()
    check = test.checks[-1]
    assert not check.ok
    assert "history.db ok (0.0 MB, 1 tables)" in check.detail
    assert "alarms.db:" in check.detail and "not a database" in check.detail
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # nothing written


def test_missing_secret_and_a_loose_keyring_file_fail_with_the_fix(keyring_file, tmp_path):
    set_secret("demo_city_gate", "other", "x")  # creates the keyring file, but not hoc_opcua
    test = SelfTest(DEMO, tmp_path / "data", gui=False)
    test.check_config()
    test.check_keyring()
    assert not test.checks[-1].ok
    assert "missing hoc_opcua (devices[hoc].password_secret)" in test.checks[-1].detail
    assert "gas-hmi secrets set hoc_opcua --station demo_city_gate" in test.checks[-1].detail
    set_secret("demo_city_gate", "hoc_opcua", "pw")
    kr_file = keyring_file / "python_keyring" / "keyring_pass.cfg"
    kr_file.chmod(0o644)
    test.check_keyring()
    assert (
        not test.checks[-1].ok and "readable by group/others (mode 644)" in test.checks[-1].detail
    )
    kr_file.chmod(0o600)
    test.check_keyring()
    assert test.checks[-1].ok


def test_broken_config_fails_naming_file_and_line(keyring_file, tmp_path, capsys):
    st = tmp_path / "st"
    shutil.copytree(DEMO, st)
    text = (st / "devices.yaml").read_text(encoding="utf-8")
    (st / "devices.yaml").write_text(
        text.replace("port: 15020", "port: not-a-port", 1), encoding="utf-8"
    )
    line = next(
        i
        for i, ln in enumerate((st / "devices.yaml").read_text().splitlines(), 1)
        if "not-a-port" in ln
    )
    code = main(
        ["--self-test", str(st), "--data-dir", str(tmp_path / "data"), "--no-gui", "--json"]
    )
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    status = {c["name"]: c for c in out["checks"]}
    assert out["ok"] is False
    assert (
        status["config"]["status"] == "FAIL"
        and f"devices.yaml:{line}" in status["config"]["detail"]
    )
    assert status["databases"]["detail"] == "skipped: no valid config"
    assert status["qt:offscreen"]["status"] == "PASS"  # the other checks still ran


def test_text_report_and_its_summary_line(capsys):
    checks = [
        Check("config", True, "fine"),
        Check("keyring", False, "no backend"),
        Check("data dir", True, "low", warn=True),
    ]
    report(checks, header="gas-hmi self-test: x")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "gas-hmi self-test: x"
    assert lines[1].split() == ["PASS", "config", "fine"]
    assert lines[2].split()[:2] == ["FAIL", "keyring"] and lines[3].split()[0] == "WARN"
    assert lines[-1] == "self-test FAILED: 1 of 3 checks (keyring)"
    report([Check("config", True, "fine")])
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "self-test passed: all 1 checks"
    # CI log scanners read "N passed, N failed" as a test-runner summary: never print that shape
    assert not re.search(r"\d+ passed, \d+ failed", last)


def test_dispatch_only_takes_the_self_test_flags(monkeypatch):
    seen: list[list[str]] = []
    monkeypatch.setattr(cli_selftest, "run", lambda argv: seen.append(list(argv)) or 0)
    assert cli_selftest.dispatch(["-v", "--self-test=st", "--json"]) == 0
    assert cli_selftest.dispatch(["--self-test", "st2", "--no-gui"]) == 0
    assert cli_selftest.dispatch(["run", "st", "--headless"]) is None
    assert seen == [["-v", "st", "--json"], ["st2", "--no-gui"]]


def test_outside_a_bundle_the_station_must_be_named(capsys):
    assert main(["--self-test"]) == 2
    assert "needs a STATION_DIR outside a station bundle" in capsys.readouterr().err


def test_a_missing_qt_platform_is_a_failure_with_qts_reason():
    result = run_qt_probe("nosuchplatform", timeout=60)
    assert result["ok"] is False
    assert "nosuchplatform" in result["error"]


@pytest.mark.parametrize("name", ["en", "zh_CN"])
def test_broken_translation_catalog_fails(tmp_path, monkeypatch, name):
    from hmi import paths

    res = tmp_path / "resources"
    shutil.copytree(paths.resources_dir(), res)
    (res / "i18n" / f"{name}.yaml").write_text("- a list\n- not a mapping\n", encoding="utf-8")
    monkeypatch.setattr(paths, "resources_dir", lambda: res)
    test = SelfTest(DEMO, tmp_path / "data", gui=False)
    test.check_translations()
    assert not test.checks[-1].ok and f"{name}.yaml: not a mapping" in test.checks[-1].detail
