"""End-to-end (CTC+attention, transducer) token tables, search algorithms and decoding drivers."""
