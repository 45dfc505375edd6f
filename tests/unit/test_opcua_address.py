"""OPC UA node id parsing, status/value mapping, write encoding, per-tag options, tag names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asyncua import ua

from drivers.base import Quality, validate_address
from drivers.opcua.address import parse_address
from drivers.opcua.browse import node_address, tag_name, tag_type
from drivers.opcua.codec import encode_write, status_quality, to_number, to_unix, variant_type_of
from drivers.opcua.collector import BatchCollector
from drivers.opcua.driver import OpcUaDriver
from drivers.opcua.points import options_problems


@pytest.mark.parametrize(
    ("text", "ns", "uri", "kind", "ident"),
    [
        ("ns=2;s=Heater.WaterTemp", 2, None, "s", "Heater.WaterTemp"),
        ("ns=2;i=1001", 2, None, "i", 1001),
        ("i=2258", 0, None, "i", 2258),
        (
            "nsu=urn:gas-hmi:sim;s=Heater.WaterTemp",
            None,
            "urn:gas-hmi:sim",
            "s",
            "Heater.WaterTemp",
        ),
        ("nsu=http://x.org/UA/;i=7", None, "http://x.org/UA/", "i", 7),
        (
            "ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a",
            3,
            None,
            "g",
            "09087e75-8e5e-499b-954f-f2a9603db28a",
        ),
        ("ns=4;b=M/RbKBsRVkePCePcx24oRA==", 4, None, "b", "M/RbKBsRVkePCePcx24oRA=="),
        ("ns=2;s=a;b=c", 2, None, "s", "a;b=c"),  # ';' inside a string identifier
    ],
)
def test_valid_node_ids(
    text: str, ns: int | None, uri: str | None, kind: str, ident: object
) -> None:
    a = parse_address(text)
    assert (a.namespace_index, a.namespace_uri, a.id_type, a.identifier) == (ns, uri, kind, ident)
    assert parse_address(a.text()) == a


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("ns=x;s=A", "not a number"),
        ("ns=2", "missing identifier"),
        ("ns=2;q=1", "identifier must be"),
        ("ns=2;i=abc", "not a number"),
        ("ns=70000;i=1", "outside 0-65535"),
        ("nsu=urn:x", "missing identifier"),
        ("nsu=;s=A", "empty namespace URI"),
        ("ns=2;g=not-a-guid", "not a GUID"),
        ("ns=2;s=", "empty string identifier"),
        ("hr:100:f32", "identifier must be"),
    ],
)
def test_invalid_node_ids_say_why(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_address(text)
    assert fragment in (OpcUaDriver.validate_address(text) or "")
    assert validate_address("opcua", text)


def test_status_codes_map_to_quality_with_the_status_name() -> None:
    assert status_quality(ua.StatusCode(ua.StatusCodes.Good)) == (Quality.GOOD, "")
    assert status_quality(None) == (Quality.GOOD, "")
    assert status_quality(ua.StatusCodes.GoodLocalOverride) == (Quality.GOOD, "")
    assert status_quality(ua.StatusCodes.UncertainSensorNotAccurate) == (
        Quality.UNCERTAIN,
        "UncertainSensorNotAccurate",
    )
    assert status_quality(ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)) == (
        Quality.BAD,
        "BadNodeIdUnknown",
    )
    assert status_quality(0x80AB0000 | 0x1234)[0] == Quality.BAD  # unknown bad code: still BAD


def test_data_types_and_values() -> None:
    assert variant_type_of(ua.NodeId(ua.ObjectIds.Float)) is ua.VariantType.Float
    assert variant_type_of(ua.NodeId(ua.ObjectIds.Duration)) is ua.VariantType.Double
    assert variant_type_of(ua.NodeId(ua.ObjectIds.BaseDataType)) is None
    assert variant_type_of(ua.NodeId(3003, 2)) is None
    assert to_number(True) == 1.0 and to_number(7) == 7.0 and math.isnan(to_number("x"))
    assert to_unix(ua.uatypes.win_epoch_to_datetime(0)) == 0.0


def test_write_encoding_follows_the_node_type() -> None:
    assert encode_write(1.0, ua.VariantType.Boolean) == ua.Variant(True, ua.VariantType.Boolean)
    assert encode_write("off", ua.VariantType.Boolean).Value is False
    v = encode_write(41.6, ua.VariantType.Int16)
    assert (v.Value, v.VariantType) == (42, ua.VariantType.Int16)
    assert encode_write(2.5, ua.VariantType.Float).VariantType is ua.VariantType.Float
    assert encode_write(12, ua.VariantType.String).Value == "12"
    with pytest.raises(ValueError, match="UInt16 range"):
        encode_write(-1, ua.VariantType.UInt16)
    with pytest.raises(ValueError, match="not a number"):
        encode_write("abc", ua.VariantType.Double)
    with pytest.raises(ValueError, match="not a boolean"):
        encode_write("maybe", ua.VariantType.Boolean)
    with pytest.raises(ValueError, match="not supported"):
        encode_write(1, ua.VariantType.ExtensionObject)


def test_tag_options_are_checked() -> None:
    assert options_problems({}) == []
    assert options_problems({"subscribe": False, "deadband": {"type": "percent", "value": 2}}) == []
    assert "subscribe" in options_problems({"subscribe": "no"})[0]
    assert "absolute|percent" in options_problems({"deadband": {"type": "relative", "value": 1}})[0]
    assert "0-100" in options_problems({"deadband": {"type": "percent", "value": 120}})[0]
    assert "unknown OPC UA option" in options_problems({"dedband": 1})[0]


def test_collector_splits_batches_by_kind_quality_and_reason() -> None:
    got = []
    col = BatchCollector()
    col.add_good(3, 1.5, 100.0)
    col.add_good(4, 2.5, 101.0)
    col.add(5, 9.0, Quality.BAD, "BadSensorFailure", 102.0)
    col.add(6, "v1", Quality.GOOD, "", 103.0, text=True)
    col.add(7, 3.0, Quality.UNCERTAIN, "UncertainLastUsableValue", 104.0)
    assert col.flush(got.append, 200.0) == 5
    good, bad, text, unc = got
    assert (
        list(good.indices) == [3, 4]
        and list(good.source_ts) == [100.0, 101.0]
        and good.quality == Quality.GOOD
    )
    assert bad.reason == "BadSensorFailure" and np.isnan(
        bad.values[0]
    )  # a BAD value is never a number
    assert text.values.dtype == object and text.values[0] == "v1"
    assert unc.quality == Quality.UNCERTAIN and unc.values[0] == 3.0
    assert col.flush(got.append, 201.0) == 0


def test_browse_names_and_addresses() -> None:
    assert tag_name(["hoc", "Heater", "WaterTemp"]) == "hoc.heater.water_temp"
    assert tag_name(["1st stage", "P-101 (bar)"], prefix="st") == "st.1st_stage.p-101_bar"
    assert tag_name(["Überdruck"]).startswith("v") or tag_name(["Überdruck"])[0].isalpha()
    ns = ["http://opcfoundation.org/UA/", "urn:server", "urn:gas-hmi:sim"]
    assert (
        node_address(ua.NodeId("Heater.WaterTemp", 2), ns)
        == "nsu=urn:gas-hmi:sim;s=Heater.WaterTemp"
    )
    assert node_address(ua.NodeId(2258, 0), ns) == "i=2258"
    assert (
        tag_type(ua.VariantType.UInt16) == "int"
        and tag_type(ua.VariantType.LocalizedText) == "string"
    )
    assert tag_type(None) == "float"


def test_params_are_checked() -> None:
    assert OpcUaDriver.validate_params({"endpoint": "opc.tcp://10.0.0.5:4840"}) == []
    assert "opc.tcp://HOST:PORT" in OpcUaDriver.validate_params({"endpoint": "http://x"})[0]
    secure = OpcUaDriver.validate_params(
        {"endpoint": "opc.tcp://h:1", "security_policy": "Basic256Sha256"}
    )
    assert any("pki_dir" in p for p in secure), secure
    assert any("security_mode" in p for p in secure), secure
