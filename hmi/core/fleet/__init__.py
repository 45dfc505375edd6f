"""Fleet model of the dispatch console (Qt-free): stations, key figures, alarms, history."""

from hmi.core.fleet.host import DispatchHost
from hmi.core.fleet.model import AckRequest, FleetModel, StationSummary, WriteRequest
from hmi.core.fleet.store import FleetStore, FleetStoreError

__all__ = [
    "AckRequest",
    "DispatchHost",
    "FleetModel",
    "FleetStore",
    "FleetStoreError",
    "StationSummary",
    "WriteRequest",
]
