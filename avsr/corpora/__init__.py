"""One package per corpus (mirrored by ``egs/<name>/``): data preparation, lexicons, splits and
fixtures that only make sense for that corpus. The corpus-independent layers (``avsr.data``,
``avsr.features``, ``avsr.lang``, ``avsr.wfst``, models, training, decoding) never import from here.

- ``synthetic``: the embedded "synthetic GRID" corpus (espeak-ng speech + rendered lip video)
- ``grid``: the real GRID corpus (layouts, splits, download, CMUdict lexicon, sentence grammar)
- ``lrs3``, ``yesno``, ``custom``: the other egs recipes
- ``toy``: tiny generated corpora for tests and benchmarks (known HMM, word-pattern features)
"""
