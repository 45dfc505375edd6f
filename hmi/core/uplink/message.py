"""An MQTT message as the payload codecs produce it and the connection publishes it."""

from __future__ import annotations

from typing import NamedTuple


class Message(NamedTuple):
    """Topic, payload bytes, QoS and retain flag of one publish."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
