"""Station-config schema: typed, checked objects for everything a station's YAML says.

Runtime code only ever sees these objects, never raw YAML. Unknown keys are errors
(``extra="forbid"``) so that a typo in a limit name cannot silently disable an alarm.
Cross-references (tag -> device, alarm -> set-point tag, ...) are checked by
:mod:`hmi.config.loader` after the schema has accepted the shapes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from drivers.iec104.params import Iec104Params
from drivers.modbus.params import ModbusRtuOverTcpParams, ModbusRtuParams, ModbusTcpParams
from drivers.opcua.params import OpcUaParams
from drivers.params import LinkParams
from drivers.s7.params import S7Params
from hmi.config.analytics import AnalyticsConfig
from hmi.config.calc import CalcParams
from hmi.config.interlocks import Permissive
from hmi.config.northbound import NorthboundConfig
from hmi.config.protection import ProtectionConfig
from hmi.config.routes import RouteConfig
from hmi.config.simulation import SimulationConfig

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in English and Chinese. A plain string in YAML sets both."""

    en: str = ""
    zh: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"en": data, "zh": data}
        return data

    def get(self, lang: str) -> str:
        """Text in ``lang`` ('zh' or 'zh_CN' for Chinese), falling back to the other one."""
        if lang.startswith("zh"):
            return self.zh or self.en
        return self.en or self.zh


def _empty_text() -> Text:
    return Text()


# --------------------------------------------------------------------------- station
class Station(Strict):
    """Identity of the station."""

    id: str
    name: Text
    kind: Literal["city_gate", "regulator_station", "metering_station", "other"] = "city_gate"
    company: str = ""
    location: str = ""
    timezone: str = "Asia/Shanghai"
    language: Literal["zh_CN", "en"] = "zh_CN"
    theme: Literal["light", "dark"] = "light"

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(
                "station id must start with a letter and use only letters, digits, _ and -"
            )
        return v


# --------------------------------------------------------------------------- devices
class CommAlarm(Strict):
    """Comm-loss alarm of a device (raised when it stops answering)."""

    enabled: bool = True
    priority: int = Field(2, ge=1, le=4)
    on_delay: float = Field(5.0, ge=0)
    message: Text = Field(default_factory=_empty_text)


class DeviceBase(Strict, LinkParams):
    """What every device has, whatever its protocol: identity, alarm, and the link
    parameters (:class:`drivers.params.LinkParams`: timeout, retries, back-off, poll groups)."""

    id: str
    label: Text = Field(default_factory=_empty_text)
    enabled: bool = True
    comm_alarm: CommAlarm = Field(default_factory=CommAlarm)
    area: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(
                "device id must start with a letter and use only letters, digits, _ and -"
            )
        return v

    def driver_params(self) -> dict[str, Any]:
        """Parameters handed to the driver (everything but identity and alarms)."""
        return self.model_dump(exclude={"id", "label", "enabled", "comm_alarm", "area", "protocol"})


class ModbusDevice(DeviceBase, ModbusTcpParams):
    """A Modbus TCP device (PLC, flow computer, gas-detection controller...); its parameters
    are :class:`drivers.modbus.params.ModbusTcpParams`."""

    protocol: Literal["modbus_tcp"]


class ModbusRtuDevice(DeviceBase, ModbusRtuParams):
    """A Modbus RTU unit on an RS-485 line (flow computer, gas detection, UPS...)."""

    protocol: Literal["modbus_rtu"]


class ModbusRtuOverTcpDevice(DeviceBase, ModbusRtuOverTcpParams):
    """A Modbus RTU unit behind a serial server or 4G DTU (raw RTU frames over TCP)."""

    protocol: Literal["modbus_rtu_over_tcp"]


class OpcUaDevice(DeviceBase, OpcUaParams):
    """An OPC UA server (heater/odorizer controller, RTU, gas chromatograph...); its parameters
    are :class:`drivers.opcua.params.OpcUaParams`."""

    protocol: Literal["opcua"]


class S7Device(DeviceBase, S7Params):
    """A Siemens S7 CPU (S7-300/400/1200/1500) over ISO-on-TCP; parameters: drivers/s7/params.py."""

    protocol: Literal["s7"]


class Iec104Device(DeviceBase, Iec104Params):
    """An IEC 60870-5-104 controlled station (the telecontrol RTU); parameters in
    :class:`drivers.iec104.params.Iec104Params`, ``timeout`` is the command confirmation wait."""

    protocol: Literal["iec104"]


class SystemDevice(DeviceBase):
    """The station's own health and analytics figures (see :mod:`hmi.config.system`)."""

    protocol: Literal["system"]
    ntp_server: str = ""  # reference clock for host.clock_offset: host or host:port
    poll_groups: dict[str, float] = Field(default_factory=lambda: {"default": 5.0})


class CalcDevice(DeviceBase, CalcParams):
    """Calculated (``expr:``) and manual-entry tags (see :mod:`hmi.config.calc`)."""

    protocol: Literal["calc"]


Device = Annotated[
    ModbusDevice
    | ModbusRtuDevice
    | ModbusRtuOverTcpDevice
    | OpcUaDevice
    | S7Device
    | Iec104Device
    | SystemDevice
    | CalcDevice,
    Field(discriminator="protocol"),
]


# --------------------------------------------------------------------------- alarms
#: ``fault``: a discrete tag that reports an equipment fault (alarm_value); ``bad_pv``: the
#: instrument itself fails (its value BAD while its device communicates, ISA-18.2 "bad PV")
AlarmKind = Literal[
    "HH", "H", "L", "LL", "deviation", "roc", "discrete", "fault", "frozen", "bad_pv"
]


class AlarmConfig(Strict):
    """One alarm on a tag (ISA-18.2 rationalization fields included)."""

    kind: AlarmKind
    id: str = ""  # defaults to "<tag>.<kind>" (lower-case kind)
    priority: int = Field(3, ge=1, le=4, description="1 critical, 2 high, 3 medium, 4 low")
    limit: float | None = None  # HH/H/L/LL
    setpoint_tag: str = ""  # deviation: set-point tag
    setpoint: float | None = None  # deviation: fixed set point
    deviation: float | None = None  # deviation: allowed |value - set point|
    rate: float | None = None  # roc: engineering units per minute (absolute)
    alarm_value: float | None = None  # discrete/fault: value that is abnormal
    normal_value: float | None = None  # discrete: value that is normal (any other is abnormal)
    deadband: float = Field(0.0, ge=0)
    on_delay: float = Field(0.0, ge=0)
    off_delay: float = Field(0.0, ge=0)
    latched: bool = False
    message: Text = Field(default_factory=_empty_text)
    response: Text = Field(default_factory=_empty_text)  # consequence / operator response
    area: str = ""
    suppressed_by: str = ""  # condition tag: alarm suppressed by design while it is non-zero
    max_shelve: float = Field(8 * 3600.0, gt=0, description="seconds")
    enabled: bool = True

    @model_validator(mode="after")
    def _fields_for_kind(self) -> AlarmConfig:
        k = self.kind
        if k in ("HH", "H", "L", "LL") and self.limit is None:
            raise ValueError(f"a {k} alarm needs 'limit'")
        if k == "deviation":
            if self.deviation is None:
                raise ValueError("a deviation alarm needs 'deviation'")
            if not self.setpoint_tag and self.setpoint is None:
                raise ValueError("a deviation alarm needs 'setpoint_tag' or 'setpoint'")
        if k == "roc" and self.rate is None:
            raise ValueError("a roc alarm needs 'rate' (units per minute)")
        if k == "frozen" and (self.limit is None or self.limit <= 0):
            raise ValueError("a frozen alarm needs 'limit' (seconds the value may stay unchanged)")
        if k == "bad_pv" and self.on_delay <= 0:
            raise ValueError(
                "a bad_pv alarm needs 'on_delay' > 0 (seconds the value must stay BAD): a comm"
                " loss turns the tags BAD a moment before the device's state follows"
            )
        if k in ("discrete", "fault") and self.alarm_value is None and self.normal_value is None:
            raise ValueError(f"a {k} alarm needs 'alarm_value' or 'normal_value'")
        return self


# --------------------------------------------------------------------------- tags
class Scale(Strict):
    """Raw -> engineering: either two points or gain/offset."""

    raw: tuple[float, float] | None = None
    eng: tuple[float, float] | None = None
    gain: float | None = None
    offset: float = 0.0

    @model_validator(mode="after")
    def _one_form(self) -> Scale:
        if (self.raw is None) != (self.eng is None):
            raise ValueError("scale needs both 'raw' and 'eng'")
        if self.raw is not None and self.gain is not None:
            raise ValueError("give either raw/eng or gain/offset, not both")
        if self.raw is not None and self.raw[0] == self.raw[1]:
            raise ValueError("scale raw range is empty")
        if self.eng is not None and self.eng[0] == self.eng[1]:
            raise ValueError("scale eng range is empty: every raw value would read the same")
        if self.gain == 0:
            raise ValueError("scale gain 0 would read every raw value as the offset")
        return self

    def gain_offset(self) -> tuple[float, float]:
        """Return (gain, offset) so that eng = raw * gain + offset."""
        if self.raw is not None and self.eng is not None:
            gain = (self.eng[1] - self.eng[0]) / (self.raw[1] - self.raw[0])
            return gain, self.eng[0] - self.raw[0] * gain
        return (1.0 if self.gain is None else self.gain), self.offset


class History(Strict):
    """When a tag's value goes to the historian."""

    mode: Literal["on_change", "periodic", "none"] = "on_change"
    deadband: float = Field(0.0, ge=0)
    max_interval: float = Field(60.0, gt=0, description="seconds; a sample at least this often")
    interval: float = Field(10.0, gt=0, description="seconds, periodic mode")


class Interlock(Strict):
    """A hint shown (and enforced) before a write: e.g. outlet valve while slam-shut tripped."""

    tag: str
    equals: float
    message: Text


class TagConfig(Strict):
    """One logical tag."""

    name: str
    device: str
    address: str = ""  # required except on a calc device
    expr: str = ""  # calc device: the expression (hmi.config.calc_expr)
    type: Literal["float", "int", "bool", "string"] | None = None
    poll: str = ""  # poll group of the device; empty = the device's first group
    unit: str = ""
    range: tuple[float, float] = (0.0, 100.0)
    scale: Scale | None = None
    clamp: bool = False
    deadband: float = Field(0.0, ge=0)
    precision: int = Field(2, ge=0, le=9)
    access: Literal["r", "rw", "manual"] = "r"  # manual: typed in by an operator (calc device)
    manual_role: Literal["operator", "engineer", "admin"] = "operator"  # who may type it in
    history: History = Field(default_factory=History)
    uplink: bool = True
    remote_write: bool = False
    label: Text = Field(default_factory=_empty_text)
    description: str = ""
    area: str = ""
    instrument: str = ""  # ISA instrument number (PT-501), sent upstream as InstrumentTag
    states: dict[int, Text] = Field(default_factory=dict)  # discrete value -> state text
    interlocks: list[Interlock] = Field(default_factory=list)
    alarms: list[AlarmConfig] = Field(default_factory=list)
    sim: str | dict[str, Any] | None = None  # simulator source (model variable or signal)
    options: dict[str, Any] = Field(default_factory=dict)  # protocol extras

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(
                "tag name must be dotted words of letters, digits, _ and - (e.g. reg1.outlet.pressure)"
            )
        return v

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] >= v[1]:
            raise ValueError(f"range {list(v)} is empty: low must be below high")
        return v

    def gain_offset(self) -> tuple[float, float]:
        """(gain, offset) with eng = raw * gain + offset; (1, 0) for an unscaled tag.

        The one definition of the tag's scaling: the tag table (raw -> engineering), the
        write path (engineering -> raw) and the simulator all take it from here.
        """
        return self.scale.gain_offset() if self.scale is not None else (1.0, 0.0)

    def to_eng(self, raw: float) -> float:
        """Engineering value of a raw device value."""
        gain, offset = self.gain_offset()
        return raw * gain + offset

    def to_raw(self, eng: float) -> float:
        """Raw device value of an engineering value (what a write sends)."""
        gain, offset = self.gain_offset()
        return (eng - offset) / gain

    def alarm_id(self, alarm: AlarmConfig) -> str:
        """Stable id of one of this tag's alarms."""
        return alarm.id or f"{self.name}.{alarm.kind.lower()}"


# --------------------------------------------------------------------------- the rest
class ScreenRef(Strict):
    """A mimic screen of this station (files under ``screens/``)."""

    id: str
    source: str  # base name of screens/<source>.svg + .yaml
    title: Text = Field(default_factory=_empty_text)
    level: int = Field(2, ge=1, le=4)


class TrendGroup(Strict):
    """A saved, named set of pens."""

    name: str
    title: Text = Field(default_factory=_empty_text)
    pens: list[str]
    range: str = "1h"


class HistorianConfig(Strict):
    """Local history: retention and disk budget."""

    retention_days: float = Field(400.0, gt=0)
    rollup_retention_days: float = Field(3650.0, gt=0)
    disk_budget_mb: float = Field(4096.0, gt=0)
    flush_interval: float = Field(1.0, gt=0, le=60)
    batch_size: int = Field(5000, ge=1)


class Broker(Strict):
    """One MQTT broker of the uplink's fail-over list."""

    host: str
    port: int = Field(1883, ge=1, le=65535)
    tls: bool = False


class UplinkConfig(Strict):
    """Forwarding to the company's MQTT platform."""

    enabled: bool = False
    mode: Literal["sparkplug", "json"] = "sparkplug"
    brokers: list[Broker] = Field(default_factory=list)
    client_id: str = ""
    username: str = ""
    password_secret: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive: int = Field(30, ge=5, le=3600)
    qos: int = Field(1, ge=0, le=1)
    group_id: str = "gas-stations"
    edge_node: str = ""  # defaults to the station id
    primary_host: str = ""  # Sparkplug STATE gating when set
    topic_prefix: str = "gas"
    integrity_interval: float = Field(300.0, ge=0)
    outbox_budget_mb: float = Field(512.0, gt=0)
    replay_rate: float = Field(2000.0, gt=0, description="messages/s while replaying")
    remote_ack: bool = True
    remote_commands: bool = False
    max_payload_kb: int = Field(256, ge=4, le=65536, description="MQTT payload cap; split above")
    routes: list[RouteConfig] = Field(default_factory=list)  # business routes (hmi.config.routes)


class StationConfig(Strict):
    """Everything one station's config directory says, checked."""

    station: Station
    devices: list[Device] = Field(default_factory=list)
    tags: list[TagConfig] = Field(default_factory=list)
    screens: list[ScreenRef] = Field(default_factory=list)
    trend_groups: list[TrendGroup] = Field(default_factory=list)
    historian: HistorianConfig = Field(default_factory=HistorianConfig)
    uplink: UplinkConfig = Field(default_factory=UplinkConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    northbound: NorthboundConfig = Field(default_factory=NorthboundConfig)
    protection: ProtectionConfig = Field(default_factory=ProtectionConfig)
    interlocks: list[Permissive] = Field(default_factory=list)  # permissives of commands
    horn_output: str = ""  # writable tag (a PLC coil) that follows the alarm horn
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)  # simulator figures

    # filled by the loader (not from YAML)
    source_dir: str = ""
    _tag_map: dict[str, TagConfig] | None = PrivateAttr(default=None)

    def device(
        self, device_id: str
    ) -> (
        ModbusDevice
        | ModbusRtuDevice
        | ModbusRtuOverTcpDevice
        | OpcUaDevice
        | S7Device
        | Iec104Device
        | SystemDevice
        | CalcDevice
    ):
        """Device by id (KeyError if unknown)."""
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    def tag(self, name: str) -> TagConfig:
        """Tag by name (KeyError if unknown)."""
        return self.tag_map()[name]

    def tag_map(self) -> dict[str, TagConfig]:
        """Name -> tag, in config order."""
        if self._tag_map is None:
            self._tag_map = {t.name: t for t in self.tags}
        return self._tag_map

    def poll_period(self, tag: TagConfig) -> float:
        """Seconds between reads of ``tag`` (its poll group, or the device's first group)."""
        groups = self.device(tag.device).poll_groups
        if tag.poll:
            return float(groups[tag.poll])
        return float(next(iter(groups.values()), 1.0))

    def tags_of(self, device_id: str) -> list[TagConfig]:
        """Tags read from one device, in config order."""
        return [t for t in self.tags if t.device == device_id]

    def alarms(self) -> list[tuple[TagConfig, AlarmConfig]]:
        """Every (tag, alarm) pair, in config order."""
        return [(t, a) for t in self.tags for a in t.alarms]
