"""One MQTT session with one broker, over paho-mqtt 2.x (the only module that imports paho).

A fresh paho client is made for every session and thrown away when the session ends,
so paho never re-sends a message of an earlier session on its own: after a reconnect
the uplink decides what is replayed (from the outbox) and in which order (after the
Sparkplug births). The owner drives the network with :meth:`Connection.loop` on its
own thread; paho's callbacks therefore run on that thread and only record what
happened (acknowledged message ids, inbound messages, the CONNACK).

MQTT 3.1.1 with a clean session, as Sparkplug B 3.0 requires for 3.1.1.
"""

from __future__ import annotations

import logging
import socket
import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from hmi.config.schema import Broker, UplinkConfig
from hmi.core.uplink.message import Message

log = logging.getLogger(__name__)


class ConnectError(Exception):
    """A connection attempt failed; the message names the broker and the reason."""


class Connection:
    """A paho client for one session: connect, publish, loop, collect PUBACKs and messages."""

    def __init__(
        self,
        broker: Broker,
        cfg: UplinkConfig,
        client_id: str,
        will: Message,
        password: str | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.broker = broker
        self.name = f"{broker.host}:{broker.port}"
        self.connected = False  # CONNACK accepted
        self.refused = ""  # CONNACK refused: why
        self.lost = ""  # connection lost after connecting: why
        self.acked: list[int] = []  # mids whose PUBACK arrived (QoS 1) or that were written (QoS 0)
        self.failed: list[
            int
        ] = []  # mids the broker answered with a failure reason code (MQTT 5 only)
        self.inbound: list[tuple[str, bytes]] = []
        self._closing = False
        #: paho's wake-up socket (its ``_sockpairW``; paho has no public wake-up)
        self._wake_w: socket.socket | None = None
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        c.connect_timeout = 10.0
        c.max_inflight_messages_set(0)  # the uplink keeps its own window
        c.max_queued_messages_set(0)
        c.will_set(will.topic, will.payload, will.qos, will.retain)
        if cfg.username:
            c.username_pw_set(cfg.username, password)
        if broker.tls:
            try:
                c.tls_set(
                    ca_certs=_path(cfg.ca_file, base_dir),
                    certfile=_path(cfg.cert_file, base_dir),
                    keyfile=_path(cfg.key_file, base_dir),
                    cert_reqs=ssl.CERT_REQUIRED,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise ConnectError(f"TLS set-up for {self.name} failed: {exc}") from None
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.client = c

    # ------------------------------------------------------------------ paho callbacks (owner's thread)
    def _on_connect(
        self, _c: mqtt.Client, _u: object, _flags: object, rc: ReasonCode, _p: object
    ) -> None:
        if rc.is_failure:
            self.refused = f"broker {self.name} refused the connection: {rc}"
        else:
            self.connected = True

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        if not self._closing and not self.lost:
            self.lost = f"connection to {self.name} lost ({rc})"

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object
    ) -> None:
        (self.failed if rc.is_failure else self.acked).append(mid)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.inbound.append((msg.topic, bytes(msg.payload)))

    # ------------------------------------------------------------------ owner API
    def open(self) -> None:
        """Open the TCP (and TLS) connection and send CONNECT; CONNACK arrives through :meth:`loop`."""
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=self._keepalive)
        except ssl.SSLCertVerificationError as exc:
            raise ConnectError(
                f"TLS: the certificate of {self.name} is not trusted ({exc.verify_message}); check uplink.ca_file"
            ) from None
        except ssl.SSLError as exc:
            raise ConnectError(
                f"TLS handshake with {self.name} failed: {exc.reason or exc}"
            ) from None
        except ConnectionRefusedError:
            raise ConnectError(
                f"connection refused by {self.name} (is the broker running?)"
            ) from None
        except TimeoutError:
            raise ConnectError(f"no answer from {self.name} (timed out)") from None
        except socket.gaierror as exc:
            raise ConnectError(
                f"cannot resolve broker host {self.broker.host!r}: {exc.strerror}"
            ) from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.name}: {exc.strerror or exc}") from None
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
            try:
                # no Nagle: the last message of a burst goes out at once instead of waiting
                # for the broker's delayed ACK (~40 ms on Linux) when no PUBACK comes back
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not TCP (a test double, a Unix socket): nothing to tune
                pass

    _keepalive = 30

    def set_keepalive(self, seconds: int) -> None:
        """Keep-alive for :meth:`open`."""
        self._keepalive = int(seconds)

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        """Subscribe to the command topics."""
        if topics:
            self.client.subscribe([(t, qos) for t in topics])

    def publish(self, msg: Message) -> int | None:
        """Queue one message; its mid, or None when the connection is gone."""
        c = self.client
        # paho writes a byte to its wake-up pair on every publish, to wake a network loop
        # on another thread; this loop runs on the caller's thread and writes the packet at
        # once, so that byte would only cost a send, a select and a recv here. (wake()
        # uses its own reference to the pair, so a wake-up from another thread still lands.)
        wake_w, c._sockpairW = c._sockpairW, None  # noqa: SLF001 - see wake()
        try:
            info = c.publish(msg.topic, msg.payload, msg.qos, msg.retain)
        except (OSError, ValueError) as exc:
            self.lost = self.lost or f"publish to {self.name} failed: {exc}"
            return None
        finally:
            c._sockpairW = wake_w  # noqa: SLF001
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                self.lost = self.lost or f"connection to {self.name} lost"
                return None
        return int(info.mid)

    def loop(self, timeout: float) -> None:
        """Run paho's network loop once (read, write, keep-alive) for up to ``timeout`` s."""
        try:
            rc = self.client.loop(timeout)
            self._wake_w = self.client._sockpairW  # noqa: SLF001 - made by the first loop()
        except (OSError, ValueError) as exc:
            rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
            self.lost = self.lost or f"connection to {self.name} lost: {exc}"
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and not self.lost and not self.refused:
            self.lost = f"connection to {self.name} lost ({mqtt.error_string(rc)})"

    def wake(self) -> None:
        """Cut short a :meth:`loop` wait, from any thread (new data to publish).

        Writes one byte to paho's own wake-up socket pair, which its network loop
        selects on next to the broker socket (what paho does itself on ``publish``).
        """
        sock = self._wake_w  # paho's pair as the last loop() left it (publish hides it)
        if sock is not None:
            try:
                sock.send(b"0")
            except OSError:  # full (the loop is awake anyway) or closed with the session
                pass

    @property
    def alive(self) -> bool:
        """Connected and not lost or refused."""
        return self.connected and not self.lost and not self.refused

    def out_queue_empty(self) -> bool:
        """True when paho has no outgoing packet left to write."""
        return not self.client._out_packet  # noqa: SLF001 - paho has no public accessor

    def close(self, clean: bool = True, flush_timeout: float = 3.0) -> None:
        """End the session: DISCONNECT (clean) or just drop the socket (the broker then sends the Will)."""
        self._closing = True
        try:
            if clean and self.alive:
                self.client.disconnect()
                # write the DISCONNECT (and anything queued before it)
                for _ in range(max(1, int(flush_timeout / 0.05))):
                    self.client.loop(0.05)
                    if self.out_queue_empty():
                        break
        except (OSError, ValueError):
            pass
        finally:
            self.client._reset_sockets()  # noqa: SLF001 - closes the socket and paho's wake-up pair

    def drop_socket(self) -> None:
        """Shut the socket down without DISCONNECT (tests: an unclean loss, the broker sends the Will)."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _path(p: str, base: Path | None) -> str | None:
    if not p:
        return None
    path = Path(p).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)
