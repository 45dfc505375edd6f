"""Modbus TCP driver: addresses, codec, block planner and the polling driver."""
