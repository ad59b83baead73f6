"""Topology, addressing and routing tables of cores, chips and boards."""
