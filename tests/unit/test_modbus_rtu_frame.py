"""RTU framing and parameters: CRC, reply lengths and checks, t3.5, line settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from drivers.modbus.params import (
    ModbusRtuOverTcpParams,
    ModbusRtuParams,
    bus_conflicts,
    t35_seconds,
)
from drivers.modbus.rtu_frame import (
    FrameError,
    check_reply,
    crc16,
    decode_bits,
    decode_registers,
    reply_length,
    request_frame,
    request_length,
    with_crc,
)
from drivers.sim.rtu_link import FrameAssembler


def test_crc_and_request_frames_match_the_spec():
    # Modbus over Serial Line V1.02 / common reference frame: 01 03 00 00 00 0A C5 CD
    assert request_frame(1, 3, 0, 10) == bytes.fromhex("01030000000AC5CD")
    assert crc16(b"\x01\x03\x00\x00\x00\x0a") == 0xCDC5
    assert request_frame(17, 5, 0xAC, True) == with_crc(bytes.fromhex("1105 00AC FF00"))
    assert request_frame(1, 16, 1, [0x000A, 0x0102])[:7] == bytes.fromhex(
        "0110000100020 4".replace(" ", "")
    )
    assert request_length(request_frame(1, 16, 1, [1, 2, 3])) == 9 + 6
    with pytest.raises(ValueError, match="function code 8"):
        request_frame(1, 8, 0, 0)


def test_reply_lengths_and_checks():
    reply = with_crc(bytes([2, 3, 4, 0x12, 0x34, 0xAB, 0xCD]))
    assert reply_length(reply[:1]) is None and reply_length(reply[:2]) is None
    assert reply_length(reply) == 9
    assert reply_length(bytes([2, 0x83])) == 5 and reply_length(bytes([2, 6])) == 8
    assert reply_length(bytes([2, 0x2B])) == 0  # unknown function code
    pdu = check_reply(reply, 2, 3)
    assert decode_registers(pdu).tolist() == [0x1234, 0xABCD]
    bits = check_reply(with_crc(bytes([2, 1, 1, 0b101])), 2, 1)
    assert decode_bits(bits)[:3].tolist() == [True, False, True]
    broken = reply[:-1] + bytes([reply[-1] ^ 1])
    with pytest.raises(FrameError, match="CRC error in reply from unit 2"):
        check_reply(broken, 2, 3)
    with pytest.raises(FrameError, match="reply from unit 2 to a request for unit 5"):
        check_reply(reply, 5, 3)
    with pytest.raises(FrameError, match="function code 3, expected 4"):
        check_reply(reply, 2, 4)
    with pytest.raises(FrameError, match="byte count 3"):
        decode_registers(bytes([3, 3, 0, 1, 2]))


def test_t35_and_line_settings():
    assert t35_seconds(9600) == pytest.approx(3.5 * 11 / 9600)  # ~4.01 ms
    assert t35_seconds(19200) == pytest.approx(3.5 * 11 / 19200)
    assert t35_seconds(38400) == t35_seconds(115200) == 0.00175  # fixed above 19200
    p = ModbusRtuParams(serial_port="/dev/ttyUSB0", baudrate=9600, parity="N", stop_bits=2)
    assert p.char_bits == 11 and p.line_settings() == "9600 8N2"
    assert p.gap_seconds == pytest.approx(t35_seconds(9600))
    assert ModbusRtuParams(serial_port="COM3", inter_frame=10).gap_seconds == 0.01
    assert ModbusRtuOverTcpParams(host="10.0.0.5", port=4001).gap_seconds == 0.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"baudrate": 9601}, "baud rate 9601 is not supported (use one of 1200, 2400"),
        ({"baudrate": 230400}, "baud rate 230400 is not supported"),
        ({"parity": "X"}, "Input should be 'N', 'E' or 'O'"),
        ({"data_bits": 7}, "Modbus RTU frames use 8 data bits"),
        ({"stop_bits": 3}, "Input should be 1 or 2"),
        ({"unit_id": 0}, "greater than or equal to 1"),
        ({"unit_id": 248}, "less than or equal to 247"),
        ({"serial_port": " "}, "serial_port is empty"),
    ],
)
def test_bad_serial_settings_are_refused_with_a_reason(changes, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModbusRtuParams(**{"serial_port": "/dev/ttyUSB0", **changes})


def test_units_on_one_bus_must_agree():
    a = ModbusRtuParams(serial_port="/dev/ttyUSB0", unit_id=1)
    b = ModbusRtuParams(serial_port="/dev/ttyUSB0", unit_id=2, baudrate=19200, parity="N")
    c = ModbusRtuParams(serial_port="/dev/ttyUSB0", unit_id=1)
    other = ModbusRtuParams(serial_port="/dev/ttyUSB1", unit_id=1, baudrate=19200)
    tcp1 = ModbusRtuOverTcpParams(host="10.0.0.5", port=4001, unit_id=3)
    tcp2 = ModbusRtuOverTcpParams(host="10.0.0.5", port=4001, unit_id=3)
    got = bus_conflicts(
        [("fc", a), ("gd", b), ("ups", c), ("x", other), ("t1", tcp1), ("t2", tcp2)]
    )
    assert [(pos, key) for pos, key, _ in got] == [
        (1, "baudrate"),
        (1, "parity"),
        (2, "unit_id"),
        (5, "unit_id"),
    ]
    assert "baudrate 19200 differs from 9600 of device 'fc' on the same serial port" in got[0][2]
    assert "unit id 1 is already used by device 'fc' on serial port /dev/ttyUSB0" in got[2][2]
    assert "serial server 10.0.0.5:4001" in got[3][2]


def test_slave_side_assembler_resynchronises():
    asm = FrameAssembler()
    good = request_frame(1, 3, 0, 2)
    assert asm.feed(good[:3]) == [] and asm.feed(good[3:] + good) == [good, good]
    assert asm.feed(good[:-1] + b"\x00") == [] and asm.dropped == 1  # bad CRC: dropped
    assert asm.feed(good) == [good]
