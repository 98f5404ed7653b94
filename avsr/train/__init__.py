"""Training of the E2E models: data caches and batches, the loop, on-the-fly noise, frame labels, initialisation."""
