"""Dataset loaders and spike encoders for the recognition demos."""
