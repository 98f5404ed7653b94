"""WER/PER scoring."""
