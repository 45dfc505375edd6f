"""Protocol drivers (Qt-free, independent of ``hmi``): one folder per protocol."""
