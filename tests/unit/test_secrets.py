"""Secrets: ``gas-hmi secrets`` against a file keyring in tmp_path, a machine without a
keyring, and the rule that no station config holds a secret value."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hmi.cli import main
from hmi.core.secrets import SecretError, get_secret, list_secrets, set_secret

ROOT = Path(__file__).resolve().parents[2]
VALUE = "s3cr3t-Value-9"


def run(capsys, monkeypatch, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_set_list_delete_never_echo_the_value(keyring_file, capsys, monkeypatch):
    rc, out, err = run(
        capsys,
        monkeypatch,
        "secrets",
        "set",
        "mqtt_uplink",
        "--station",
        "st1",
        "--stdin",
        stdin=VALUE + "\n",
    )
    assert rc == 0 and "mqtt_uplink stored" in out and VALUE not in out + err
    assert get_secret("st1", "mqtt_uplink") == VALUE
    assert any(keyring_file.rglob("*.cfg"))  # the value went to the tmp file keyring, nowhere else
    rc, out, err = run(capsys, monkeypatch, "secrets", "list", "--station", "st1")
    assert rc == 0 and out.split() == ["mqtt_uplink"] and VALUE not in out + err
    assert run(capsys, monkeypatch, "secrets", "list", "--station", "other")[0] == 0
    rc, out, _ = run(capsys, monkeypatch, "secrets", "delete", "mqtt_uplink", "--station", "st1")
    assert rc == 0 and list_secrets("st1") == []
    rc, _, err = run(capsys, monkeypatch, "secrets", "delete", "mqtt_uplink", "--station", "st1")
    assert rc == 1 and "no secret 'mqtt_uplink'" in err
    with pytest.raises(SecretError, match="gas-hmi secrets set mqtt_uplink --station st1"):
        get_secret("st1", "mqtt_uplink")


def test_prompted_value_must_match_and_not_be_empty(keyring_file, capsys, monkeypatch):
    answers = iter(["abc", "abd"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))  # plays the terminal
    rc, _, err = run(capsys, monkeypatch, "secrets", "set", "opc", "--station", "st1")
    assert rc == 1 and "differ" in err and "abc" not in err
    rc, _, err = run(
        capsys, monkeypatch, "secrets", "set", "opc", "--station", "st1", "--stdin", stdin="\n"
    )
    assert rc == 1 and "empty value" in err
    assert list_secrets("st1") == []


def test_no_keyring_backend_gives_a_clear_message(tmp_path):
    env = dict(
        os.environ,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        XDG_DATA_HOME=str(tmp_path),
    )
    for argv in (
        ["set", "x", "--station", "st1", "--stdin"],
        ["list", "--station", "st1"],
        ["delete", "x", "--station", "st1"],
    ):
        p = subprocess.run(
            [sys.executable, "-m", "hmi", "secrets", *argv],
            input="v\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert p.returncode == 1, p.stderr
        assert "no usable keyring backend" in p.stderr and "Traceback" not in p.stderr


def test_check_reports_missing_and_stored_secrets(keyring_file, tmp_path, capsys, monkeypatch):
    d = tmp_path / "station"
    d.mkdir()
    (d / "station.yaml").write_text(
        "station:\n  id: st9\n  name: Test\n"
        "uplink:\n  enabled: false\n  username: edge\n  password_secret: mqtt_uplink\n"
        "  brokers:\n    - host: 127.0.0.1\n"
    )
    rc, out, err = run(capsys, monkeypatch, "secrets", "check", str(d))
    assert rc == 1 and "MISSING" in out and "gas-hmi secrets set mqtt_uplink --station st9" in err
    set_secret("st9", "mqtt_uplink", VALUE)
    rc, out, err = run(capsys, monkeypatch, "secrets", "check", str(d))
    assert (
        rc == 0 and "stored" in out and "uplink.password_secret" in out and VALUE not in out + err
    )


# ---------------------------------------------------------------- no secret in any config file
SECRETISH = re.compile(r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|credential)", re.I)
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")


def config_problems(folder: Path) -> list[str]:
    """Keys that look like secrets but are not ``*_secret`` names, and secret-looking values."""
    problems: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                here = f"{where}.{key}"
                if SECRETISH.search(key):
                    if not key.endswith("_secret"):
                        problems.append(
                            f"{here}: a secret-like key; name a keyring secret with '<x>_secret' instead"
                        )
                    elif v not in (None, "") and not (isinstance(v, str) and NAME.match(v)):
                        problems.append(
                            f"{here}: must be the *name* of a keyring secret, not a value"
                        )
                walk(v, here)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
        elif isinstance(node, str):
            if "PRIVATE KEY" in node or re.search(r"://[^/\s:@]+:[^/\s@]+@", node):
                problems.append(f"{where}: holds a key or a password in a URL")

    for path in sorted(list(folder.rglob("*.yaml")) + list(folder.rglob("*.yml"))):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{path}: not YAML: {exc}")
            continue
        walk(data, str(path.relative_to(folder)))
    return problems


def test_scanner_finds_planted_secrets(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "devices:\n  - id: plc\n    password: hunter2\n    options: {api_key: abc}\n"
        "uplink:\n  password_secret: 'hunter2 with spaces!'\n  brokers: [{host: 'mqtt://u:pw@host'}]\n"
        "  key: '-----BEGIN PRIVATE KEY-----'\n"
    )
    (tmp_path / "ok.yaml").write_text("uplink:\n  username: edge\n  password_secret: mqtt_uplink\n")
    found = config_problems(tmp_path)
    assert len(found) == 5, found
    assert any("devices[0].password:" in p for p in found) and any("api_key" in p for p in found)
    assert not any(p.startswith("ok.yaml") for p in found)


def test_no_station_config_holds_a_secret():
    folder = ROOT / "station_configs"
    assert config_problems(folder) == []
