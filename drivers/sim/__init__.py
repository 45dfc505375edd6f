"""Simulated gas station: physics model, scenarios and real protocol servers."""
