"""OPC UA driver on asyncua."""
