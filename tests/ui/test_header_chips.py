"""The header's uplink chip: its tooltip names the uplink's last error in the screen's language."""

from __future__ import annotations

from types import MappingProxyType

from hmi.core.stats import RuntimeStats
from hmi.ui.header import uplink_chip
from hmi.ui.i18n import i18n
from tests.unit.test_reasons import english_words

ERRORS = [
    "connection refused by 10.0.0.5:1883 (is the broker running?)",
    "broker 10.0.0.5:1883 refused the connection: Bad user name or password",
    "offline: connection to 10.0.0.5:1883 lost (The connection was lost.)",
    "TLS: the certificate of mq.example.com:8883 is not trusted (certificate has expired); "
    "check uplink.ca_file",
    "the broker rejected messages (not authorised for the topic?)",
]


def _stats(error: str) -> RuntimeStats:
    up = {"enabled": True, "connected": False, "broker": "10.0.0.5:1883", "outbox_depth": 12}
    return RuntimeStats(uplink=MappingProxyType({**up, "last_error": error}))


def test_the_uplink_chip_says_its_last_error_in_chinese_on_the_chinese_screen(qapp):
    i18n().set_language("zh_CN")
    try:
        for error in ERRORS:
            text, state, tip = uplink_chip(_stats(error))
            assert state == "warn" and "12" in text
            last = tip.splitlines()[-1]
            reason = last.split("：", 1)[1] if "：" in last else last.split(": ", 1)[1]
            assert not english_words(reason), f"{error!r} -> {last!r}"
    finally:
        i18n().set_language("en")
    _text, _state, tip = uplink_chip(_stats(ERRORS[0]))
    assert tip.endswith(ERRORS[0])  # the English screen: the text as the uplink wrote it
