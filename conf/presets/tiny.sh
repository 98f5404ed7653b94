# Preset "tiny": a smoke run in a few minutes (tests; conf/corpus_tiny.yaml: 40 utterances).
# Same stages and systems as the default preset, with minimal training and two test conditions.

hybrid_epochs=2            # hybrid DNNs
ctc_att_epochs=2           # CTC+attention A and V, from scratch
ctc_att_av_epochs=1        # AV models, started from the A and V models
transducer_epochs=1        # transducers, started from the CTC+attention model of the same input
e2e_avg=1                  # checkpoints averaged for decoding
test_sets_all="test test_babble_snr0"
test_sets_focus="test test_babble_snr0"
