"""Topology, addressing, the router model and its statistics."""

from neurochip.routing import topology  # noqa: F401
