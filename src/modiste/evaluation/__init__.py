"""Metrics and report writers used by `modiste eval ...`."""
