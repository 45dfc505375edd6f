"""AGA8-92DC (GB/T 17747.2 / ISO 12213-2) compression factor against the published check value,
the simulator's flow-computer Z against it, and the PTZ cross-check's configuration.

Check value: AGA Report No. 8 Part 1 (2017), as published with the NIST reference code
(github.com/usnistgov/AGA8, AGA8CODE/C/Detail_test_01.cpp): the 21-component test gas at
400 K and 50 MPa has M = 20.54333051 g/mol, rho = 12.80792403648801 mol/dm3 and
Z = 1.173801364147326.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drivers.sim import physics
from drivers.sim.chromatograph import COMPONENTS as GC_COMPONENTS
from hmi.config import ConfigError, load_station
from hmi.core.analytics import aga8, gasprops

ROOT = Path(__file__).resolve().parents[2]

#: the AGA 8 Part 1 test gas, mole fractions in the standard's component order
TEST_GAS = (0.77824, 0.02, 0.06, 0.08, 0.03, 0.0015, 0.003, 0.0005, 0.00165, 0.00215, 0.00088,
            0.00024, 0.00015, 0.00009, 0.004, 0.005, 0.002, 0.0001, 0.0025, 0.007, 0.001)  # fmt: skip
#: the simulated chromatograph's components as AGA 8 names them
GC_NAMES = {"ch4": "methane", "c2h6": "ethane", "c3h8": "propane", "c4": "butanes",
            "n2": "nitrogen", "co2": "carbon_dioxide"}  # fmt: skip


def test_the_published_check_value():
    mix = aga8.mixture(dict(zip(aga8.COMPONENTS, TEST_GAS, strict=True)))
    assert mix.molar_mass == pytest.approx(20.54333051, abs=1e-8)
    assert float(aga8.density(mix, 50_000.0, 400.0)) == pytest.approx(12.80792403648801, abs=1e-9)
    z = float(aga8.z_factor(mix, 50.0, 400.0 - 273.15))
    assert z == pytest.approx(1.173801364147326, abs=1e-9)


def demo_gas() -> aga8.Mixture:
    return aga8.mixture({GC_NAMES[k]: v[0] for k, v in GC_COMPONENTS.items()})


def test_pipeline_gas_figures_and_arrays():
    mix = demo_gas()
    # near ideal at base conditions, ~0.9 at city-gate pressure; arrays give the same as scalars
    assert 0.997 < float(aga8.z_factor(mix, 0.101325, 20.0)) < 0.999
    p = np.array([0.5, 2.0, 4.0, 6.0])
    zs = aga8.z_factor(mix, p, 10.0)
    assert zs.shape == (4,) and np.all(np.diff(zs) < 0)
    assert zs[2] == pytest.approx(float(aga8.z_factor(mix, 4.0, 10.0)), abs=1e-14)
    # the relative-density correlation of gasprops agrees to about 1 % (why it needs a 1 % band)
    dak = gasprops.z_factor(p, 10.0, 0.58)
    assert np.max(np.abs(dak / zs - 1.0)) < 0.01


def test_lumped_butanes_split_evenly_and_bad_analyses_are_named():
    a = aga8.mixture({"methane": 95.0, "butanes": 5.0})
    b = aga8.mixture({"methane": 95.0, "isobutane": 2.5, "n_butane": 2.5})
    assert float(aga8.z_factor(a, 4.0, 10.0)) == pytest.approx(float(aga8.z_factor(b, 4.0, 10.0)))
    with pytest.raises(ValueError, match="unknown component"):
        aga8.mixture({"methane": 90.0, "methanol": 10.0})
    with pytest.raises(ValueError, match="non-negative"):
        aga8.mixture({"methane": 0.0})


def test_the_simulated_flow_computer_corrects_with_aga8():
    """The simulator's Z (a fit, drivers must not import hmi) is within 0.08 % of AGA8-92DC."""
    mix = demo_gas()
    p, t = np.meshgrid(np.linspace(0.09, 8.0, 40), np.linspace(-20.0, 50.0, 29))
    ref = aga8.z_factor(mix, p.ravel(), t.ravel())
    sim = np.array(
        [physics.z_factor(float(a), float(b)) for a, b in zip(p.ravel(), t.ravel(), strict=True)]
    )
    assert np.max(np.abs(sim / ref - 1.0)) < 0.0008
    assert physics.Z_BASE == pytest.approx(float(aga8.z_factor(mix, 0.101325, 20.0)), abs=5e-5)


def _station(tmp_path: Path) -> Path:
    st = tmp_path / "st"
    shutil.copytree(ROOT / "station_configs" / "demo_city_gate", st)
    return st


def test_the_demo_cross_checks_use_aga8_with_a_half_percent_band():
    for name in ("demo_city_gate", "demo_regulator_station"):
        cfg = load_station(ROOT / "station_configs" / name)
        checks = [w for w in cfg.analytics.warnings if w.kind == "ptz_check"]
        assert checks
        for w in checks:
            assert set(w.composition) >= {"methane", "ethane", "nitrogen", "carbon_dioxide"}
            limits = sorted(a.limit for a in cfg.tag(f"ew.{w.id}").alarms)
            assert limits == [-0.5, 0.5], (name, w.id, limits)


def test_a_composition_naming_an_unknown_component_or_tag_is_refused(tmp_path):
    st = _station(tmp_path)
    path = st / "system.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("ethane: gc.c2h6,", "ethane: gc.nope,", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"composition\.ethane: unknown tag 'gc.nope'"):
        load_station(st)
    path.write_text(text.replace("ethane: gc.c2h6,", "ethene: gc.c2h6,", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown component\(s\) \['ethene'\]"):
        load_station(st)
