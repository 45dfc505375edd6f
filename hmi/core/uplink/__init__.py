"""Uplink to the company's MQTT platform: store-and-forward outbox, Sparkplug B or JSON.

The runtime creates one :class:`Uplink` per station (see ``service.py``); the CLI applies
``--uplink URL --uplink-mode MODE`` with :func:`override_uplink`. Only this package
imports paho-mqtt.
"""

from hmi.core.uplink.policy import override_uplink
from hmi.core.uplink.service import Uplink

__all__ = ["Uplink", "override_uplink"]
