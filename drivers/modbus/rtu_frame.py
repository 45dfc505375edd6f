"""Modbus RTU framing: CRC-16, request frames, reply length and checks, with plain reasons.

An RTU frame is ``unit id | PDU | CRC-16 (low byte first)`` (Modbus over Serial Line
V1.02, section 2.5.1). The master knows how long a reply is from its first bytes: an
exception reply is 5 bytes, a read reply 5 + its byte count, a write echo 8. What does
not check out raises :class:`FrameError` with the reason a field engineer reads:
"CRC error in reply from unit 2", "reply from unit 3 to a request for unit 2",
"truncated frame: 5 of 9 bytes from unit 2".
"""

from __future__ import annotations

import struct

import numpy as np


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF) of ``data``."""
    crc = 0xFFFF
    table = _TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC, low byte first."""
    return body + struct.pack("<H", crc16(body))


class FrameError(Exception):
    """A reply that is not a valid answer to the request; the message is the reason."""


def request_pdu(fc: int, start: int, value: object) -> bytes:
    """The PDU of a request: reads take the count as ``value``, FC5 a bool, FC6 an int,
    FC16 a list of register values."""
    if fc in (1, 2, 3, 4):
        return struct.pack(">BHH", fc, start, int(value))  # type: ignore[call-overload]
    if fc == 5:
        return struct.pack(">BHH", 5, start, 0xFF00 if value else 0)
    if fc == 6:
        return struct.pack(">BHH", 6, start, int(value) & 0xFFFF)  # type: ignore[call-overload]
    if fc == 16:
        words = [int(w) & 0xFFFF for w in value]  # type: ignore[attr-defined]
        head = struct.pack(">BHHB", 16, start, len(words), 2 * len(words))
        return head + struct.pack(f">{len(words)}H", *words)
    raise ValueError(f"function code {fc} is not supported")


def request_frame(unit: int, fc: int, start: int, value: object) -> bytes:
    """A whole RTU request frame with its CRC."""
    return with_crc(bytes([unit]) + request_pdu(fc, start, value))


def reply_length(buf: bytes | bytearray) -> int | None:
    """Length of the reply frame that starts ``buf``; None while too few bytes say it."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc & 0x80:
        return 5
    if fc in (1, 2, 3, 4):
        return None if len(buf) < 3 else 5 + buf[2]
    if fc in (5, 6, 15, 16):
        return 8
    return 0  # unknown function code: the length cannot be known


def check_reply(buf: bytes, unit: int, fc: int) -> bytes:
    """The PDU of a complete reply frame ``buf`` to a request (unit, fc); FrameError if bad.

    A Modbus exception reply is returned as its PDU (function code | 0x80, code).
    """
    if len(buf) < 4:
        raise FrameError(f"truncated frame: {len(buf)} bytes from unit {unit}")
    body, crc = buf[:-2], struct.unpack("<H", buf[-2:])[0]
    if crc16(body) != crc:
        raise FrameError(f"CRC error in reply from unit {unit}")
    if body[0] != unit:
        raise FrameError(f"reply from unit {body[0]} to a request for unit {unit}")
    got = body[1]
    if got != fc and got != fc | 0x80:
        raise FrameError(f"reply with function code {got}, expected {fc}")
    return bytes(body[1:])


def decode_registers(pdu: bytes) -> np.ndarray:
    """Registers of a FC3/FC4 reply PDU (big-endian words after the byte count)."""
    size = pdu[1]
    if size % 2 or size + 2 > len(pdu):
        raise FrameError(f"byte count {size} does not fit the reply ({len(pdu) - 2} data bytes)")
    return np.frombuffer(pdu, dtype=">u2", count=size // 2, offset=2)


def decode_bits(pdu: bytes) -> np.ndarray:
    """Bits of a FC1/FC2 reply PDU (LSB of the first byte is the first bit)."""
    size = pdu[1]
    if size + 2 > len(pdu):
        raise FrameError(f"byte count {size} does not fit the reply ({len(pdu) - 2} data bytes)")
    raw = np.frombuffer(pdu, dtype=np.uint8, count=size, offset=2)
    return np.unpackbits(raw, bitorder="little").view(bool)


def request_length(buf: bytes | bytearray) -> int | None:
    """Length of the request frame that starts ``buf`` (the slave's side); None if not yet
    known, 0 for a function code the slave does not know."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in (1, 2, 3, 4, 5, 6):
        return 8
    if fc in (15, 16):
        return None if len(buf) < 7 else 9 + buf[6]
    return 0
