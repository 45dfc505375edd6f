"""Siemens S7 (S7-300/400/1200/1500) over ISO-on-TCP, on python-snap7."""
