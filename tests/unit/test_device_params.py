"""Device parameters are defined once per protocol: the schema and the drivers share the model."""

from __future__ import annotations

import pytest

from drivers.base import PointSpec
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.params import ModbusTcpParams
from drivers.opcua.params import OpcUaParams
from drivers.params import LinkParams
from hmi.config import ConfigError, load_station
from hmi.config.schema import DeviceBase, ModbusDevice, OpcUaDevice
from tests.unit.test_config import make_station, problems


def test_schema_devices_are_the_driver_models():
    assert issubclass(ModbusDevice, ModbusTcpParams)
    assert issubclass(OpcUaDevice, OpcUaParams)
    assert issubclass(DeviceBase, LinkParams)
    own = set(DeviceBase.model_fields) - set(LinkParams.model_fields)
    assert set(ModbusDevice.model_fields) == own | set(ModbusTcpParams.model_fields) | {"protocol"}
    assert set(OpcUaDevice.model_fields) == own | set(OpcUaParams.model_fields) | {"protocol"}


def test_a_driver_made_from_a_plain_dict_has_the_schema_defaults():
    drv = ModbusDriver("plc", {}, [PointSpec(0, "a", "hr:0")], lambda b: None)
    dev = ModbusDevice.model_validate({"id": "plc", "protocol": "modbus_tcp"})
    assert drv.settings == ModbusTcpParams.model_validate(dev.driver_params())
    assert drv.settings.max_gap_registers == dev.max_gap_registers


def test_a_driver_refuses_a_parameter_the_schema_refuses():
    with pytest.raises(ValueError, match="max_registers"):
        ModbusDriver("plc", {"max_registers": 200}, [], lambda b: None)


def test_the_loader_reports_a_driver_check_with_file_and_line(tmp_path):
    d = make_station(tmp_path)
    text = (d / "devices.yaml").read_text(encoding="utf-8")
    (d / "devices.yaml").write_text(
        text.replace(
            "    port: 15999\n", "    port: 15999\n    backoff_initial: 60\n    backoff_max: 30\n"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError):
        load_station(d)
    shown = problems(d)
    assert len(shown) == 1, shown
    assert shown[0].endswith(
        "devices.yaml:2: devices[plc]: backoff_initial 60 is above backoff_max 30"
    )


def test_one_quality_classification():
    from drivers.base import Quality

    assert [Quality.of(q) for q in (255, 192, 191, 64, 63, 0)] == [
        Quality.GOOD,
        Quality.GOOD,
        Quality.UNCERTAIN,
        Quality.UNCERTAIN,
        Quality.BAD,
        Quality.BAD,
    ]
    assert Quality.of(200).label == "good"


def test_scaling_is_defined_once_on_the_tag():
    from hmi.config.schema import TagConfig

    t = TagConfig.model_validate(
        {
            "name": "p",
            "device": "plc",
            "address": "hr:0",
            "scale": {"raw": [0, 10000], "eng": [0, 1]},
        }
    )
    assert t.gain_offset() == pytest.approx((1e-4, 0.0))
    assert t.to_eng(4000) == pytest.approx(0.4)
    assert t.to_raw(0.4) == pytest.approx(4000)
    plain = TagConfig.model_validate({"name": "q", "device": "plc", "address": "hr:1"})
    assert plain.to_raw(3.5) == 3.5


def test_a_scale_that_reads_every_value_the_same_is_refused():
    from pydantic import ValidationError

    from hmi.config.schema import Scale

    with pytest.raises(ValidationError, match="eng range is empty"):
        Scale.model_validate({"raw": [0, 10], "eng": [5, 5]})
    with pytest.raises(ValidationError, match="gain 0"):
        Scale.model_validate({"gain": 0})
