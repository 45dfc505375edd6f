"""Qt-free station runtime: tags, scanning, alarms, historian, uplink, users and audit."""
