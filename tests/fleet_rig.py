"""Synthetic stations on a real mosquitto for the dispatch UI tests, screenshots and bench.

:class:`FleetPublisher` publishes the messages of :class:`~hmi.core.fleet.generator.
EdgeNodeSim` nodes with one paho client (QoS 1, waiting for each PUBACK when asked).
"""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hmi.core.fleet.generator import EdgeNodeSim


class FleetPublisher:
    """A paho client publishing for many synthetic edge nodes."""

    def __init__(self, host: str, port: int, client_id: str = "fleetgen") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()

    def send(self, msgs: list[tuple[str, bytes]], qos: int = 1, wait: bool = True) -> None:
        """Publish (and wait until the broker has each one)."""
        infos = [self.client.publish(t, p, qos) for t, p in msgs]
        if wait:
            for i in infos:
                i.wait_for_publish(10)

    def reply(self, node: EdgeNodeSim, request_id: str, alarm_ids: list[str]) -> None:
        """Answer a remote ack as a station would (``Commands/Reply``, alias 3)."""
        from hmi.core.uplink import sparkplug_b_pb2 as pb

        p = pb.Payload()
        p.timestamp = int(time.time() * 1000)
        p.seq = node.seq
        node.seq = (node.seq + 1) % 256
        m = p.metrics.add()
        m.alias = 3
        m.string_value = json.dumps(
            {
                "id": request_id,
                "cmd": "ack",
                "ok": True,
                "message": "acknowledged",
                "alarm_ids": alarm_ids,
                "ts": time.time(),
            }
        )
        self.send([(node.topic("NDATA"), p.SerializeToString())])

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def alarm_event(
    alarm_id: str,
    tag: str,
    priority: int,
    state: str,
    area: str,
    en: str,
    zh: str,
    value: float,
    kind: str = "H",
) -> dict[str, object]:
    """An alarm event as a station's uplink sends it."""
    return {
        "seq": 1,
        "alarm_id": alarm_id,
        "tag": tag,
        "kind": kind,
        "priority": priority,
        "state": state,
        "prev_state": "NORMAL",
        "transition": "raise",
        "ts": time.time(),
        "user": "",
        "comment": "",
        "remote": False,
        "message": {"en": en, "zh": zh},
        "area": area,
        "value": value,
        "limit": None,
    }
