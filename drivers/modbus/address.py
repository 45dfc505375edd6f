"""Modbus point addresses: one textual convention, parsed into a checked, typed object.

Syntax (see DESIGN.md)::

    TABLE:OFFSET[:TYPE[:ARG]]

``TABLE`` is ``co`` (coils), ``di`` (discrete inputs), ``ir`` (input registers) or
``hr`` (holding registers); ``OFFSET`` is the 0-based protocol offset (0..65535).
``TYPE`` defaults to ``bool`` on coil/input tables and ``uint16`` on register tables.
``ARG`` depends on the type: the byte/word order of a 32/64-bit value (``abcd``
default, ``badc``, ``cdab``, ``dcba``), the bit number (0..15) of a ``bit`` point or
the length in registers of a ``string``.

Examples: ``hr:100:f32:cdab``, ``ir:4:u16``, ``hr:7:bit:3``, ``co:5``, ``di:12``,
``hr:200:str:10``, ``hr:12:u32:cdab``, ``hr:20:f64:dcba``.

This module imports nothing but the standard library, so that a config check
validates addresses without importing pymodbus.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLES: tuple[str, ...] = ("co", "di", "ir", "hr")
ORDERS: tuple[str, ...] = ("abcd", "badc", "cdab", "dcba")
TYPES: tuple[str, ...] = (
    "bool",
    "bit",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
)

#: Spellings accepted in the TYPE field -> canonical type name.
TYPE_ALIASES: dict[str, str] = {
    "bool": "bool",
    "bit": "bit",
    "i16": "int16",
    "int16": "int16",
    "u16": "uint16",
    "uint16": "uint16",
    "i32": "int32",
    "int32": "int32",
    "u32": "uint32",
    "uint32": "uint32",
    "i64": "int64",
    "int64": "int64",
    "u64": "uint64",
    "uint64": "uint64",
    "f32": "float32",
    "float32": "float32",
    "float": "float32",
    "f64": "float64",
    "float64": "float64",
    "double": "float64",
    "str": "string",
    "string": "string",
}

#: Registers occupied by each fixed-width register type.
WIDTH: dict[str, int] = {
    "bool": 1,
    "bit": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}

#: Longest string, in registers: one read request (points are never split).
MAX_STRING_REGISTERS = 125
_TABLE_NAMES = {
    "co": "coil",
    "di": "discrete input",
    "ir": "input register",
    "hr": "holding register",
}
_VALUE_TYPE = {
    "bool": "bool",
    "bit": "bool",
    "float32": "float",
    "float64": "float",
    "string": "string",
}


@dataclass(frozen=True, slots=True)
class ModbusAddress:
    """A checked Modbus point address.

    ``offset`` is 0-based. ``bit`` is only set for the ``bit`` type, ``length``
    (registers) only for ``string``. Construct through :func:`parse_address`; direct
    construction is validated too.
    """

    table: str
    offset: int
    type: str = "uint16"
    order: str = "abcd"
    bit: int | None = None
    length: int = 0

    def __post_init__(self) -> None:
        _check(self)

    @property
    def is_bits(self) -> bool:
        """True for coil and discrete-input points (read as bits, not registers)."""
        return self.table in ("co", "di")

    @property
    def writable_table(self) -> bool:
        """True when the table can be written at all (coils and holding registers)."""
        return self.table in ("co", "hr")

    @property
    def count(self) -> int:
        """Registers (or bits, for co/di) the value occupies."""
        if self.is_bits:
            return 1
        if self.type == "string":
            return self.length
        return WIDTH[self.type]

    @property
    def end(self) -> int:
        """One past the last register/bit of the value."""
        return self.offset + self.count

    def __str__(self) -> str:
        """The canonical address text (parses back to an equal object)."""
        if self.is_bits:
            return f"{self.table}:{self.offset}"
        text = f"{self.table}:{self.offset}:{self.type}"
        if self.type == "bit":
            return f"{text}:{self.bit}"
        if self.type == "string":
            return f"{text}:{self.length}"
        if WIDTH[self.type] > 1 and self.order != "abcd":
            return f"{text}:{self.order}"
        return text


def _check(a: ModbusAddress) -> None:
    """Raise ValueError naming what is wrong with an address object."""
    if a.table not in TABLES:
        raise ValueError(f"unknown table {a.table!r}: use one of {', '.join(TABLES)}")
    if a.type not in TYPES:
        raise ValueError(f"unknown type {a.type!r}: use one of {', '.join(TYPES)}")
    if a.order not in ORDERS:
        raise ValueError(f"unknown byte/word order {a.order!r}: use one of {', '.join(ORDERS)}")
    if isinstance(a.offset, bool) or not isinstance(a.offset, int) or not 0 <= a.offset <= 65535:
        raise ValueError(f"offset {a.offset!r} is outside 0..65535")
    if a.table in ("co", "di") and a.type != "bool":
        raise ValueError(
            f"{_TABLE_NAMES[a.table]}s ({a.table}) hold single bits: type must be bool, not {a.type}"
        )
    if a.type == "bit":
        if a.bit is None or not 0 <= a.bit <= 15:
            raise ValueError(f"bit number {a.bit!r} is outside 0..15")
    elif a.bit is not None:
        raise ValueError(f"a bit number only applies to the bit type, not {a.type}")
    if a.type == "string":
        if not 1 <= a.length <= MAX_STRING_REGISTERS:
            raise ValueError(
                f"string length {a.length} registers is outside 1..{MAX_STRING_REGISTERS}"
            )
    elif a.length:
        raise ValueError(f"a length only applies to the string type, not {a.type}")
    if a.order != "abcd" and (a.type not in WIDTH or WIDTH[a.type] < 2):
        raise ValueError(f"byte/word order {a.order} only applies to 32/64-bit types, not {a.type}")
    if a.offset + a.count > 65536:
        raise ValueError(
            f"{a.type} at offset {a.offset} needs {a.count} registers and runs past 65535"
        )


def parse_address(text: str) -> ModbusAddress:
    """Parse ``TABLE:OFFSET[:TYPE[:ARG]]``; raise ValueError naming what is wrong."""
    table, offset, type_text, arg, n = _fields(text)
    if table in ("co", "di"):
        if type_text and TYPE_ALIASES.get(type_text) != "bool":
            raise ValueError(
                f"Modbus address {text!r}: {_TABLE_NAMES[table]}s ({table}) are single bits; "
                f"type must be bool (or left out), not {type_text!r}"
            )
        if n > 3:
            raise ValueError(
                f"Modbus address {text!r}: {_TABLE_NAMES[table]}s take no extra argument ({arg!r})"
            )
        return ModbusAddress(table, offset, "bool")
    kind = TYPE_ALIASES.get(type_text or "uint16")
    if kind is None:
        raise ValueError(
            f"Modbus address {text!r}: unknown type {type_text!r}; use bool, bit, i16, u16, i32, u32, "
            "i64, u64, f32, f64 or str"
        )
    order, bit, length = _argument(text, kind, arg)
    width = length if kind == "string" else WIDTH[kind]
    if offset + width > 65536:
        raise ValueError(
            f"Modbus address {text!r}: {kind} at offset {offset} needs {width} registers and runs past 65535"
        )
    return ModbusAddress(table, offset, kind, order, bit, length)


def _fields(text: str) -> tuple[str, int, str, str, int]:
    """(table, offset, type text, argument, number of fields) of an address; ValueError."""
    if not isinstance(text, str):
        raise ValueError(
            f"a Modbus address must be text like 'hr:100:f32', not {type(text).__name__}"
        )
    parts = [p.strip().lower() for p in text.strip().split(":")]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(
            f"Modbus address {text!r} must look like TABLE:OFFSET[:TYPE[:ARG]], e.g. hr:100:f32:cdab"
        )
    if len(parts) > 4:
        raise ValueError(f"Modbus address {text!r} has too many fields: TABLE:OFFSET[:TYPE[:ARG]]")
    table, offset_text = parts[0], parts[1]
    if table not in TABLES:
        raise ValueError(
            f"Modbus address {text!r}: unknown table {parts[0]!r}; use co (coils), di (discrete inputs), "
            "ir (input registers) or hr (holding registers)"
        )
    if not offset_text.isdigit():
        raise ValueError(f"Modbus address {text!r}: offset {parts[1]!r} is not a whole number")
    offset = int(offset_text)
    if offset > 65535:
        raise ValueError(f"Modbus address {text!r}: offset {offset} is outside 0..65535")
    if len(parts) > 2 and not parts[2]:
        raise ValueError(f"Modbus address {text!r}: the type field is empty")
    type_text = parts[2] if len(parts) > 2 else ""
    arg = parts[3] if len(parts) > 3 else ""
    return table, offset, type_text, arg, len(parts)


def _argument(text: str, kind: str, arg: str) -> tuple[str, int | None, int]:
    """(byte/word order, bit number, string length) from the fourth field of a register type."""
    if kind == "bit":
        if not arg:
            raise ValueError(
                f"Modbus address {text!r}: a bit point needs its bit number, e.g. hr:7:bit:3"
            )
        if not arg.isdigit() or int(arg) > 15:
            raise ValueError(f"Modbus address {text!r}: bit number {arg!r} is outside 0..15")
        return "abcd", int(arg), 0
    if kind == "string":
        if not arg:
            raise ValueError(
                f"Modbus address {text!r}: a string needs its length in registers, e.g. hr:200:str:10"
            )
        if not arg.isdigit() or not 1 <= int(arg) <= MAX_STRING_REGISTERS:
            raise ValueError(
                f"Modbus address {text!r}: string length {arg!r} must be 1..{MAX_STRING_REGISTERS} registers"
            )
        return "abcd", None, int(arg)
    if not arg:
        return "abcd", None, 0
    if WIDTH[kind] < 2:
        raise ValueError(
            f"Modbus address {text!r}: byte/word order {arg!r} only applies to 32/64-bit types, not {kind}"
        )
    if arg not in ORDERS:
        raise ValueError(
            f"Modbus address {text!r}: unknown byte/word order {arg!r}; use abcd, badc, cdab or dcba"
        )
    return arg, None, 0


def value_type(addr: ModbusAddress) -> str:
    """The tag data type a point yields: 'float', 'int', 'bool' or 'string'."""
    if addr.is_bits:
        return "bool"
    return _VALUE_TYPE.get(addr.type, "int")
