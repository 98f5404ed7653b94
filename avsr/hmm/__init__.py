"""GMM-HMM systems: monophone (kaldi-hmm-gmm) and triphone (our decision tree) training,
forced alignment, HCLG graphs and decoding."""
