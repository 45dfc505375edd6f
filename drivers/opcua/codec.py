"""OPC UA values <-> what the tag table takes: status codes, variant types, timestamps.

* Status code -> quality: Good -> GOOD, Uncertain* -> UNCERTAIN, Bad* -> BAD; the
  status name (``BadSensorFailure``) is the reason shown to the operator.
* Values: numbers and booleans become floats (bools 0.0/1.0), text types stay text.
* Writes: the point's DataType (read once at connect) selects the variant type, so a
  setpoint declared Float on the server is written as Float, not Double.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from asyncua import ua

from drivers.base import Quality

GOOD = int(Quality.GOOD)
UNCERTAIN = int(Quality.UNCERTAIN)
BAD = int(Quality.BAD)

VT = ua.VariantType
#: variant types delivered as text (object arrays) rather than numbers
TEXT_TYPES = frozenset({VT.String, VT.LocalizedText, VT.ByteString, VT.XmlElement, VT.Guid, VT.NodeId,
                        VT.ExpandedNodeId, VT.QualifiedName})  # fmt: skip
INT_RANGES: dict[ua.VariantType, tuple[int, int]] = {
    VT.SByte: (-(2**7), 2**7 - 1),
    VT.Byte: (0, 2**8 - 1),
    VT.Int16: (-(2**15), 2**15 - 1),
    VT.UInt16: (0, 2**16 - 1),
    VT.Int32: (-(2**31), 2**31 - 1),
    VT.UInt32: (0, 2**32 - 1),
    VT.Int64: (-(2**63), 2**63 - 1),
    VT.UInt64: (0, 2**64 - 1),
}
#: well-known namespace-0 subtypes of built-in data types (OPC 10000-3/-5)
_SUBTYPES = {
    29: VT.Int32,  # Enumeration (and enum data types read as Int32)
    288: VT.UInt32,  # IntegerId
    289: VT.UInt32,  # Counter
    290: VT.Double,  # Duration
    294: VT.DateTime,  # UtcTime
    295: VT.String,  # LocaleId
    30: VT.ByteString,  # Image
    12878: VT.String,  # NormalizedString
    12879: VT.String,  # DecimalString
    12880: VT.String,  # DurationString
    12881: VT.String,  # TimeString
    12882: VT.String,  # DateString
}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def status_quality(code: ua.StatusCode | int | None) -> tuple[int, str]:
    """(quality, reason) of an OPC UA status code; reason is empty for Good."""
    value = code if isinstance(code, int) else (0 if code is None else code.value)
    severity = value >> 30
    if severity == 0:
        return GOOD, ""
    name = status_name(value)
    return (UNCERTAIN if severity == 1 else BAD), name


def status_name(value: int | ua.StatusCode) -> str:
    """Symbolic name of a status code (``BadNodeIdUnknown``), hex when unknown."""
    code = value if isinstance(value, int) else value.value
    try:
        name, _doc = ua.status_codes.get_name_and_doc(code)
    except Exception:  # unknown codes: keep the number readable
        name = ""
    return name or f"0x{code:08X}"


def variant_type_of(datatype: ua.NodeId | None) -> ua.VariantType | None:
    """Variant type for a DataType node id; None when it is not a (known) built-in type."""
    if datatype is None or datatype.NamespaceIndex != 0 or not isinstance(datatype.Identifier, int):
        return None
    ident = datatype.Identifier
    if (
        1 <= ident <= 22
    ):  # built-in types (22 Structure -> ExtensionObject); 24 BaseDataType is abstract
        return VT(ident)
    return _SUBTYPES.get(ident)


def is_text(vt: ua.VariantType | None) -> bool:
    """True for variant types the tag table keeps as text."""
    return vt in TEXT_TYPES


def to_number(value: Any) -> float:
    """A value as float for the tag table (NaN when it is not numeric)."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime.datetime):
        return to_unix(value)
    if isinstance(value, ua.StatusCode):
        return float(value.value)
    return math.nan


def to_text(value: Any) -> str:
    """A value as text for a string tag."""
    if value is None:
        return ""
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, ua.NodeId):
        return str(value.to_string())
    if isinstance(value, ua.QualifiedName):
        return str(value.to_string())
    return str(value)


def to_unix(dt: datetime.datetime | None) -> float:
    """OPC UA DateTime -> Unix seconds (0.0 for a missing/minimum time)."""
    if dt is None:
        return 0.0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    ts = (dt - _EPOCH).total_seconds()
    return ts if ts > 0 else 0.0


def encode_write(value: float | bool | str, vt: ua.VariantType) -> ua.Variant:
    """Build the variant to write; ValueError with a readable message when the value does not fit."""
    if vt is VT.Boolean:
        if isinstance(value, str):
            text = value.strip().lower()
            if text not in ("0", "1", "true", "false", "on", "off"):
                raise ValueError(f"{value!r} is not a boolean")
            return ua.Variant(text in ("1", "true", "on"), vt)
        return ua.Variant(bool(value), vt)
    if vt in INT_RANGES:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        n = int(round(number))
        lo, hi = INT_RANGES[vt]
        if not lo <= n <= hi:
            raise ValueError(f"{n} is outside the {vt.name} range {lo}..{hi}")
        return ua.Variant(n, vt)
    if vt in (VT.Float, VT.Double):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if vt is VT.Float and math.isfinite(number) and abs(number) > 3.4028235e38:
            raise ValueError(f"{number:g} is outside the Float range")
        return ua.Variant(number, vt)
    if vt is VT.String:
        return ua.Variant(str(value), vt)
    if vt is VT.LocalizedText:
        return ua.Variant(ua.LocalizedText(str(value)), vt)
    if vt is VT.DateTime:
        try:
            ts = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a Unix time") from None
        return ua.Variant(_EPOCH + datetime.timedelta(seconds=ts), vt)
    raise ValueError(f"writing {vt.name} values is not supported")
