"""Northbound servers: the station as seen by the dispatch centre's SCADA (OPC UA)."""

from hmi.core.northbound.opcua import NorthboundOpcUaService, command_submitter
from hmi.core.northbound.status import status_for

__all__ = ["NorthboundOpcUaService", "command_submitter", "status_for"]
