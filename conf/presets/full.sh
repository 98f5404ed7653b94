# Preset "full": the larger embedded corpus (conf/corpus_full.yaml: 160 sentences per speaker) and
# longer training, for numbers with tighter intervals (about an hour on 2 CPU cores; less on a GPU).

hybrid_epochs=12
ctc_att_epochs=40            # CTC+attention A and V, from scratch (conf/ctc_attention.yaml train.epochs)
ctc_att_av_epochs=10          # AV models, started from the A and V models (run.sh stage 10)
transducer_epochs=10          # transducers, started from the CTC+attention model of the same input
e2e_avg=5
test_sets_all="test test_babble_snr20 test_babble_snr10 test_babble_snr5 test_babble_snr0 test_babble_snr-5
  test_white_snr20 test_white_snr10 test_white_snr5 test_white_snr0 test_white_snr-5"
test_sets_focus="test test_babble_snr0 test_babble_snr-5"
