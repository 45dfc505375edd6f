"""Level-3 faceplates: one tag in detail, its alarms, a short trend and its commands."""
