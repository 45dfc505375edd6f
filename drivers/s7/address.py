"""Siemens S7 point addresses (absolute addressing, as STEP 7 / TIA Portal write them).

Syntax::

    DB<n>.DBX<byte>.<bit>            bool in a data block          DB10.DBX0.3
    DB<n>.DB{B|W|D}<byte>[:TYPE]     byte / word / double word     DB10.DBD4:real, DB10.DBW2:int
    {M|I|Q}<byte>.<bit>              bit of markers, inputs, outputs   M3.1, I0.1, Q1.0
    {M|I|Q}{B|W|D}<byte>[:TYPE]      byte / word / dword there     MW20:int, MD24:real, IW64

German mnemonics are accepted too (``E`` = I, ``A`` = Q). ``TYPE`` must fit the width:
B holds ``byte`` (default, 0..255), ``sint`` (-128..127), ``char`` or ``string[N]``;
W holds ``word`` (default), ``int``, ``uint``; D holds ``dword`` (default), ``dint``,
``udint``, ``real``. ``string[N]`` is an S7 STRING of at most N (1..254) characters:
two header bytes (maximum and actual length) and N character bytes, starting at the B
address. Values are big-endian, as S7 stores them.

This module imports nothing but the standard library, so that a config check validates
addresses without importing python-snap7.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Area letter (canonical) -> S7 area code on the wire.
AREA_CODES: dict[str, int] = {"I": 0x81, "Q": 0x82, "M": 0x83, "DB": 0x84}
_AREA_ALIASES = {"I": "I", "E": "I", "Q": "Q", "A": "Q", "M": "M"}
_AREA_WORDS = {"I": "inputs", "Q": "outputs", "M": "markers", "DB": "data block"}

#: Bytes of each type; strings add two header bytes to their length.
WIDTH: dict[str, int] = {
    "bool": 1,
    "byte": 1,
    "sint": 1,
    "char": 1,
    "word": 2,
    "int": 2,
    "uint": 2,
    "dword": 4,
    "dint": 4,
    "udint": 4,
    "real": 4,
}
#: Types each width letter may carry (the first is the default).
_TYPES_OF = {
    "B": ("byte", "sint", "char", "string"),
    "W": ("word", "int", "uint"),
    "D": ("dword", "dint", "udint", "real"),
}
_TYPE_ALIASES = {"usint": "byte", "uint8": "byte", "int16": "int", "uint16": "uint"}
_VALUE_TYPE = {"bool": "bool", "real": "float", "string": "string", "char": "string"}
MAX_STRING = 254
MAX_BYTE = 65535
MAX_DB = 65535

_DB_RE = re.compile(r"^DB(\d+)\.DB([XBWD])(\d+)(?:\.(\d+))?$")
_AREA_RE = re.compile(r"^([IEQAM])([BWD]?)(\d+)(?:\.(\d+))?$")
_STRING_RE = re.compile(r"^string\[(\d+)\]$")


@dataclass(frozen=True, slots=True)
class S7Address:
    """A checked S7 address: area (``DB``, ``M``, ``I``, ``Q``), DB number (0 outside DBs),
    byte offset, bit (bool only), type and, for ``string``, the maximum length."""

    area: str
    db: int
    byte: int
    type: str
    bit: int | None = None
    length: int = 0

    @property
    def area_code(self) -> int:
        """The S7 area code (0x81 I, 0x82 Q, 0x83 M, 0x84 DB)."""
        return AREA_CODES[self.area]

    @property
    def size(self) -> int:
        """Bytes the value occupies."""
        return self.length + 2 if self.type == "string" else WIDTH[self.type]

    @property
    def end(self) -> int:
        """One past the value's last byte."""
        return self.byte + self.size

    @property
    def writable_area(self) -> bool:
        """False for process inputs (the CPU overwrites them every cycle)."""
        return self.area != "I"

    def __str__(self) -> str:
        """Canonical text (parses back to an equal object)."""
        prefix = f"DB{self.db}.DB" if self.area == "DB" else self.area
        if self.type == "bool":
            return f"{prefix}{'X' if self.area == 'DB' else ''}{self.byte}.{self.bit}"
        letter = {1: "B", 2: "W", 4: "D"}[1 if self.type == "string" else WIDTH[self.type]]
        text = f"{prefix}{letter}{self.byte}"
        if self.type == "string":
            return f"{text}:string[{self.length}]"
        return text if self.type == _TYPES_OF[letter][0] else f"{text}:{self.type}"


def _fail(text: str, why: str) -> ValueError:
    return ValueError(f"S7 address {text!r}: {why}")


def _type_of(text: str, letter: str, type_text: str) -> tuple[str, int]:
    """(type, string length) for width ``letter`` and the ``:TYPE`` suffix."""
    allowed = _TYPES_OF[letter]
    if not type_text:
        return allowed[0], 0
    kind = _TYPE_ALIASES.get(type_text, type_text)
    m = _STRING_RE.match(kind)
    if m or kind == "string":
        if letter != "B":
            raise _fail(text, "a string starts at a byte address (B), e.g. DB10.DBB20:string[16]")
        if not m:
            raise _fail(text, "a string needs its maximum length, e.g. :string[16]")
        length = int(m.group(1))
        if not 1 <= length <= MAX_STRING:
            raise _fail(text, f"string length {length} is outside 1..{MAX_STRING}")
        return "string", length
    if kind in allowed:
        return kind, 0
    if kind in WIDTH:
        right = {1: "B", 2: "W", 4: "D"}[WIDTH[kind]]
        raise _fail(
            text,
            f"{kind} is {WIDTH[kind]} byte(s) wide and does not fit a {letter} address; "
            f"use a {right} address (e.g. DB10.DB{right}4:{kind})",
        )
    raise _fail(text, f"unknown type {type_text!r}; a {letter} address takes {', '.join(allowed)}")


def parse_address(text: str) -> S7Address:
    """Parse an S7 address (see the module docstring); raise ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(
            f"an S7 address must be text like 'DB10.DBD4:real', not {type(text).__name__}"
        )
    location, _, type_text = text.strip().partition(":")
    loc = location.strip().upper().replace(" ", "")
    type_text = type_text.strip().lower()
    if m := _DB_RE.match(loc):
        area, db, letter, offset, bit = "DB", int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if not 1 <= db <= MAX_DB:
            raise _fail(text, f"DB number {db} is outside 1..{MAX_DB}")
    elif m := _AREA_RE.match(loc):
        area, db, letter, offset, bit = (
            _AREA_ALIASES[m.group(1)],
            0,
            m.group(2) or "X",
            m.group(3),
            m.group(4),
        )
    else:
        raise _fail(
            text,
            "use DB<n>.DBX<byte>.<bit>, DB<n>.DB{B|W|D}<byte>[:type], "
            "{M|I|Q}<byte>.<bit> or {M|I|Q}{B|W|D}<byte>[:type], e.g. DB10.DBD4:real, M3.1, IW64",
        )
    byte = int(offset)
    if byte > MAX_BYTE:
        raise _fail(text, f"byte offset {byte} is outside 0..{MAX_BYTE}")
    if letter == "X":
        if bit is None:
            raise _fail(text, f"a bit address needs its bit number 0..7, e.g. {location}.0")
        if int(bit) > 7:
            raise _fail(text, f"bit number {bit} is outside 0..7 (S7 bytes have bits 0..7)")
        if type_text and type_text != "bool":
            raise _fail(text, f"a bit address is a bool, not {type_text!r}")
        return S7Address(area, db, byte, "bool", int(bit))
    if bit is not None:
        raise _fail(text, f"only bit addresses (X) take a bit number; {letter} addresses do not")
    kind, length = _type_of(text, letter, type_text)
    addr = S7Address(area, db, byte, kind, None, length)
    if addr.end - 1 > MAX_BYTE:
        raise _fail(text, f"{kind} at byte {byte} runs past byte {MAX_BYTE}")
    return addr


def value_type(addr: S7Address) -> str:
    """The tag data type a point yields: 'float', 'int', 'bool' or 'string'."""
    return _VALUE_TYPE.get(addr.type, "int")
