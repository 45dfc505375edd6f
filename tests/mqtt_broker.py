"""A real mosquitto on a free loopback port, and a recording MQTT subscriber, for tests.

``MosquittoBroker`` writes a config into a temporary folder, starts ``mosquitto -c``,
waits until the port accepts connections, and stops (SIGTERM, then SIGKILL) on
:meth:`stop`. It can be stopped and started again on the same port (outage tests).
Queue and in-flight limits are set high on purpose: with mosquitto's defaults a burst
of QoS 1 messages to a subscriber is silently dropped.

Use the ``mosquitto`` fixture (import it into the test module) or the class directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.base import Batch
from hmi.config.schema import StationConfig
from hmi.core.tagtable import TagTable, TagUpdate
from tests.helpers import free_port, wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class MosquittoBroker:
    """One mosquitto process with its config and log in ``folder``."""

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        extra: str = "",
        persistent: bool = False,
        password_file: Path | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.password_file = password_file  # when set, anonymous clients are refused
        self.persistent = (
            persistent  # keep sessions (subscriptions, queued messages) across a restart
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.folder / "mosquitto.log"

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    # started as root, mosquitto would switch to user "mosquitto" and lose tmp_path
                    f"user {pwd.getpwuid(os.geteuid()).pw_name}",
                    "allow_anonymous false" if self.password_file else "allow_anonymous true",
                    f"password_file {self.password_file}" if self.password_file else "",
                    "persistence true" if self.persistent else "persistence false",
                    f"persistence_location {self.folder}/" if self.persistent else "",
                    "max_queued_messages 2000000",
                    "max_queued_bytes 0",
                    "max_inflight_messages 0",
                    "max_inflight_bytes 0",
                    "max_keepalive 3600",
                    "set_tcp_nodelay true",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    self.extra,
                    "",
                ]
            )
        )
        return conf

    def start(self, timeout: float = 15.0) -> MosquittoBroker:
        """Start mosquitto and wait until it accepts TCP connections."""
        if self.proc is not None:
            return self
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                self.proc = None
                raise RuntimeError(f"mosquitto exited at start: {err} {log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(ready, timeout, 0.05, f"mosquitto on port {self.port}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (idempotent); never leaves the process behind."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        if proc.stderr:
            proc.stderr.close()

    def kill(self) -> None:
        """SIGKILL (an abrupt broker failure)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)
            if proc.stderr:
                proc.stderr.close()

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A started broker, stopped after the test."""
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()


class Recorder:
    """A paho subscriber that records every message it receives (thread-safe list)."""

    def __init__(
        self,
        broker: MosquittoBroker,
        topics: list[str] | str = "#",
        client_id: str = "",
        persistent: bool = False,
    ) -> None:
        self.broker = broker
        self.topics = [topics] if isinstance(topics, str) else topics
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"rec-{id(self)}",
            clean_session=not persistent,
        )
        self.client.reconnect_delay_set(0.2, 1.0)  # follow a broker restart quickly
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object
    ) -> None:
        if not rc.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def start(self) -> Recorder:
        """Connect, subscribe and wait for the SUBACK."""
        self._subscribed.clear()
        self.client.connect(self.broker.host, self.broker.port, keepalive=60)
        self.client.loop_start()
        wait_until(self._subscribed.is_set, 10, what="recorder subscription")
        return self

    def stop(self) -> None:
        """Disconnect and stop paho's thread."""
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it."""
        info = self.client.publish(topic, payload, qos, retain)
        info.wait_for_publish(10)

    def take(
        self, predicate: Callable[[mqtt.MQTTMessage], bool] | None = None
    ) -> list[mqtt.MQTTMessage]:
        """Messages received so far (matching ``predicate``)."""
        with self._lock:
            msgs = list(self.messages)
        return [m for m in msgs if predicate is None or predicate(m)]

    def on(self, topic_part: str) -> list[mqtt.MQTTMessage]:
        """Messages whose topic contains ``topic_part``."""
        return self.take(lambda m: topic_part in m.topic)

    def wait_for(
        self,
        predicate: Callable[[list[mqtt.MQTTMessage]], object],
        timeout: float = 20.0,
        what: str = "",
    ) -> object:
        """Wait until ``predicate(messages)`` is truthy."""
        return wait_until(lambda: predicate(self.take()), timeout, 0.02, what)

    def clear(self) -> None:
        """Forget what was received."""
        with self._lock:
            self.messages.clear()


# --------------------------------------------------------------------------- uplink test station
def uplink_station(
    brokers: list[MosquittoBroker] | list[tuple[str, int]],
    mode: str = "sparkplug",
    **uplink: object,
) -> StationConfig:
    """A small two-device station for uplink tests (no device is polled: tests feed values)."""
    blist = [
        {"host": b.host, "port": b.port}
        if isinstance(b, MosquittoBroker)
        else {"host": b[0], "port": b[1]}
        for b in brokers
    ]
    up: dict[str, object] = {
        "enabled": True,
        "mode": mode,
        "brokers": blist,
        "integrity_interval": 0,
        "keepalive": 10,
    }
    up.update(uplink)
    return StationConfig.model_validate(
        {
            "station": {"id": "gs1", "name": {"en": "Test gate station", "zh": "测试门站"}},
            "devices": [
                {"id": "plc1", "protocol": "modbus_tcp", "port": 1502},
                {"id": "plc2", "protocol": "modbus_tcp", "port": 1503},
            ],
            "tags": [
                {
                    "name": "pt.inlet",
                    "device": "plc1",
                    "address": "hr:0:f32",
                    "unit": "MPa",
                    "deadband": 0.05,
                    "range": [0, 10],
                    "alarms": [
                        {
                            "kind": "HH",
                            "limit": 6.0,
                            "priority": 1,
                            "message": "Inlet pressure high high",
                        }
                    ],
                },
                {
                    "name": "tt.inlet",
                    "device": "plc1",
                    "address": "hr:2:f32",
                    "unit": "degC",
                    "range": [-40, 80],
                },
                {
                    "name": "fq.total",
                    "device": "plc1",
                    "address": "hr:4:u32",
                    "type": "int",
                    "range": [0, 1e9],
                },
                {"name": "hidden.diag", "device": "plc1", "address": "hr:6", "uplink": False},
                {
                    "name": "xv.outlet",
                    "device": "plc2",
                    "address": "co:0",
                    "type": "bool",
                    "access": "rw",
                    "remote_write": True,
                },
                {"name": "pic.sp", "device": "plc2", "address": "hr:10:f32", "access": "rw"},
                {"name": "gc.status", "device": "plc2", "address": "hr:20:str:4", "type": "string"},
            ],
            "uplink": up,
        }
    )


def feed(
    tags: TagTable,
    sink: Callable[[TagUpdate], None] | None,
    values: dict[str, object],
    quality: int = 192,
    ts: float | None = None,
) -> TagUpdate:
    """Apply one batch of raw values to ``tags`` and hand the ``changes`` update to ``sink``."""
    now = time.time() if ts is None else ts
    idx = np.array([tags.index[n] for n in values], dtype=np.int32)
    vals = list(values.values())
    arr = (
        np.array(vals, dtype=object)
        if any(isinstance(v, str) for v in vals)
        else np.array(vals, dtype=np.float64)
    )
    res = tags.apply(
        Batch(idx, arr, quality, "" if quality == 192 else "device not answering", now, now)
    )
    if sink is not None:
        sink(res.changes)
    return res.changes


def sp_payload(msg: mqtt.MQTTMessage) -> Any:
    """Decode a Sparkplug B payload."""
    from hmi.core.uplink import sparkplug_b_pb2

    return sparkplug_b_pb2.Payload.FromString(msg.payload)
