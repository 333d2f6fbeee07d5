"""The sandbox's HTTP routes: one module per simulated provider, plus the control API."""
