"""Station configuration (Qt-free): schema and loader with file:line errors."""

from hmi.config.loader import ConfigError, ConfigProblem, load_station
from hmi.config.schema import StationConfig

__all__ = ["ConfigError", "ConfigProblem", "StationConfig", "load_station"]
