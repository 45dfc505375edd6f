"""Mimic screens: an SVG drawn by an engineer plus a YAML file binding element ids to tags."""
