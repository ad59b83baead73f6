"""The neuromorphic core: compartment model, synapse encoding, per-core resources,
and the Brian2 realisation of the cores' dynamics."""
