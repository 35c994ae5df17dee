"""Modiste: catalog vision for apparel e-commerce."""

__version__ = "0.1.0"
