"""gas-hmi: SCADA HMI for city natural-gas stations."""

__version__ = "0.1.0"
