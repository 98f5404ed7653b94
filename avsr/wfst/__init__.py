"""WFST construction: L, G, LG, HLG, HCLG (kaldifst + kaldi-hmm-gmm)."""
