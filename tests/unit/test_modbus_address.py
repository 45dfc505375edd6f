"""Modbus address parsing: every table, type, alias and order, and every error message."""

from __future__ import annotations

import pytest

from drivers.base import validate_address
from drivers.modbus.address import TYPE_ALIASES, ModbusAddress, parse_address, value_type


@pytest.mark.parametrize(
    ("text", "table", "offset", "type_", "order", "bit", "length", "count"),
    [
        ("co:5", "co", 5, "bool", "abcd", None, 0, 1),
        ("di:12", "di", 12, "bool", "abcd", None, 0, 1),
        ("co:0:bool", "co", 0, "bool", "abcd", None, 0, 1),
        ("ir:4:u16", "ir", 4, "uint16", "abcd", None, 0, 1),
        ("hr:3", "hr", 3, "uint16", "abcd", None, 0, 1),
        ("ir:9", "ir", 9, "uint16", "abcd", None, 0, 1),
        ("hr:7:bit:3", "hr", 7, "bit", "abcd", 3, 0, 1),
        ("ir:7:bit:15", "ir", 7, "bit", "abcd", 15, 0, 1),
        ("hr:8:bool", "hr", 8, "bool", "abcd", None, 0, 1),
        ("hr:10:i16", "hr", 10, "int16", "abcd", None, 0, 1),
        ("hr:10:i32", "hr", 10, "int32", "abcd", None, 0, 2),
        ("hr:12:u32:cdab", "hr", 12, "uint32", "cdab", None, 0, 2),
        ("hr:100:f32:cdab", "hr", 100, "float32", "cdab", None, 0, 2),
        ("hr:100:float:badc", "hr", 100, "float32", "badc", None, 0, 2),
        ("hr:20:f64:dcba", "hr", 20, "float64", "dcba", None, 0, 4),
        ("hr:20:double", "hr", 20, "float64", "abcd", None, 0, 4),
        ("ir:30:i64:abcd", "ir", 30, "int64", "abcd", None, 0, 4),
        ("ir:30:u64:cdab", "ir", 30, "uint64", "cdab", None, 0, 4),
        ("hr:200:str:10", "hr", 200, "string", "abcd", None, 10, 10),
        ("hr:200:string:1", "hr", 200, "string", "abcd", None, 1, 1),
        (" HR:65535:U16 ", "hr", 65535, "uint16", "abcd", None, 0, 1),
        ("hr:65534:f32", "hr", 65534, "float32", "abcd", None, 0, 2),
    ],
)
def test_parse_valid(text, table, offset, type_, order, bit, length, count):
    a = parse_address(text)
    assert (a.table, a.offset, a.type, a.order, a.bit, a.length, a.count) == (
        table,
        offset,
        type_,
        order,
        bit,
        length,
        count,
    )
    assert a.is_bits == (table in ("co", "di"))
    assert a.writable_table == (table in ("co", "hr"))
    assert parse_address(str(a)) == a  # the canonical text round-trips


@pytest.mark.parametrize("alias", sorted(TYPE_ALIASES))
def test_every_alias(alias):
    arg = {"bit": ":2", "string": ":4"}.get(TYPE_ALIASES[alias], "")
    a = parse_address(f"hr:40:{alias}{arg}")
    assert a.type == TYPE_ALIASES[alias]


@pytest.mark.parametrize("order", ["abcd", "badc", "cdab", "dcba"])
@pytest.mark.parametrize("type_", ["i32", "u32", "f32", "i64", "u64", "f64"])
def test_every_order_on_wide_types(type_, order):
    assert parse_address(f"hr:0:{type_}:{order}").order == order


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must look like TABLE:OFFSET"),
        ("hr", "must look like TABLE:OFFSET"),
        ("hr:", "must look like TABLE:OFFSET"),
        ("xx:1", "unknown table 'xx'"),
        ("hr:abc", "offset 'abc' is not a whole number"),
        ("hr:-1", "offset '-1' is not a whole number"),
        ("hr:65536", "offset 65536 is outside 0..65535"),
        ("hr:1:f32:abcd:x", "too many fields"),
        ("hr:1:", "the type field is empty"),
        ("hr:1:f16", "unknown type 'f16'"),
        ("co:1:u16", "type must be bool"),
        ("di:1:bit:3", "type must be bool"),
        ("co:1:bool:abcd", "take no extra argument"),
        ("hr:7:bit", "needs its bit number"),
        ("hr:7:bit:16", "bit number '16' is outside 0..15"),
        ("hr:7:bit:x", "bit number 'x' is outside 0..15"),
        ("hr:200:str", "needs its length in registers"),
        ("hr:200:str:0", "must be 1..125 registers"),
        ("hr:200:str:126", "must be 1..125 registers"),
        ("hr:1:u16:cdab", "only applies to 32/64-bit types, not uint16"),
        ("hr:1:bool:cdab", "only applies to 32/64-bit types, not bool"),
        ("hr:1:f32:xyzw", "unknown byte/word order 'xyzw'"),
        ("hr:65535:f32", "needs 2 registers and runs past 65535"),
        ("hr:65530:str:10", "needs 10 registers and runs past 65535"),
    ],
)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")) as info:
        parse_address(text)
    if text.strip():
        assert repr(text) in str(info.value)  # the message quotes the address it rejects
    assert validate_address("modbus_tcp", text) == str(info.value)


def test_non_text_address_is_rejected():
    with pytest.raises(ValueError, match="must be text"):
        parse_address(100)  # type: ignore[arg-type]


def test_direct_construction_is_checked():
    with pytest.raises(ValueError, match="outside 0..15"):
        ModbusAddress("hr", 1, "bit", bit=20)
    with pytest.raises(ValueError, match="unknown table"):
        ModbusAddress("zz", 1)
    with pytest.raises(ValueError, match="only applies to 32/64-bit"):
        ModbusAddress("hr", 1, "int16", "dcba")
    with pytest.raises(ValueError, match="type must be bool"):
        ModbusAddress("co", 1, "uint16")


def test_value_types():
    assert value_type(parse_address("co:1")) == "bool"
    assert value_type(parse_address("hr:1:bit:0")) == "bool"
    assert value_type(parse_address("hr:1:bool")) == "bool"
    assert value_type(parse_address("hr:1:f32")) == "float"
    assert value_type(parse_address("hr:1:f64")) == "float"
    assert value_type(parse_address("hr:1:i16")) == "int"
    assert value_type(parse_address("hr:1:u64")) == "int"
    assert value_type(parse_address("hr:1:str:2")) == "string"


def test_address_module_does_not_import_pymodbus():
    import subprocess
    import sys

    code = (
        "import sys, drivers.modbus.address, drivers.modbus.codec; print('pymodbus' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
