"""The integer on-chip learning engine (DESIGN.md section 6)."""
