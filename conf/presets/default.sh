# Preset "default": the README's first command, aimed at a 15-minute target on 2 CPU cores (not met: the
# measured time and the E2E-epochs trade-off are in bench/README.md; corpus: conf/corpus_default.yaml). Sourced by run.sh;
# each value is passed to the steps as an override of the model configs in conf/.

hybrid_epochs=6            # hybrid DNNs (conf/hybrid_common.yaml train.epochs)
# E2E epochs from learning curves (docs/dev-notes/e2e_recipe.md section 8): test WER of A kept falling
# to 25 epochs (2.8 % at 15, 1.7 % at 25), the transducer's to 12 (4.4 % at 8, 1.7 % at 12), and
# AV models fine-tuned from A and V at the from-scratch peak lr (2e-3) were worse than A at
# babble 20 dB and on clean speech; a quarter of it for 15 epochs: better than A in every column
ctc_att_epochs=25            # CTC+attention A, from scratch (conf/ctc_attention.yaml train.epochs)
ctc_att_v_epochs=25          # CTC+attention V, from scratch (trains beside A: no extra wall time)
ctc_att_av_epochs=15         # AV models, started from the A and V models (run.sh stage 10)
ctc_att_av_train_opts="--set train.lr=5e-4"
transducer_epochs=12         # transducers, started from the CTC+attention model of the same input
transducer_av_from_a=true     # AV transducers: predictor + joiner from transducer A, lr 5e-4 (started at 3e-3 with a
transducer_av_train_opts="--set train.lr=5e-4"   # new predictor, AV-concat was worse than A on clean speech)
# E2E token-output searches on the focus sets, besides the graph searches every model gets (HLG
# 1-best over the grammar and the trigram, HLG n-best + attention; the transducer's LG beam search)
ctc_att_token_methods="ctc_greedy joint_ctc_attention"
transducer_token_methods="greedy"
e2e_avg=3                  # checkpoints averaged for decoding
# The leaderboard's columns: clean, babble at 20..-5 dB, white at 10 and 0 dB (--preset full: all
# five white SNRs; stage 2 makes them all).
# The embedded corpus's cross-accent test set (conf/corpus_<P>.yaml unseen_accent_speakers: its
# speakers' accents are never heard in training), a clean column of its own; other corpora have none.
unseen_accent_sets=; [[ ${corpus:-synthetic_grid} == synthetic_grid ]] && unseen_accent_sets=test_unseenaccent
test_sets_all="test $unseen_accent_sets test_babble_snr20 test_babble_snr10 test_babble_snr5 test_babble_snr0 test_babble_snr-5
  test_white_snr10 test_white_snr0"
# Where every E2E decoding method is compared (the others get one method per model family).
test_sets_focus="test $unseen_accent_sets test_babble_snr0 test_babble_snr-5"
# Stage 4, AV sync data QA (~25 s CPU on the default corpus): true | false; what it does with flagged clips
sync_qa=true
preset_sync_policy=keep    # keep (report only) | drop | shift; run.sh --sync-policy overrides
