"""Main-window pages: overview (level 1), P&ID (level 2), alarms, trends, diagnostics (level 4)."""
