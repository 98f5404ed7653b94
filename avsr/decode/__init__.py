"""Graph decoding of score matrices."""
