# Preset "full": the larger embedded corpus (conf/corpus_full.yaml: 160 sentences per speaker) and
# longer training, for numbers with tighter intervals (about an hour on 2 CPU cores; less on a GPU).

hybrid_epochs=12
ctc_att_epochs=40            # CTC+attention A, from scratch (conf/ctc_attention.yaml train.epochs)
ctc_att_v_epochs=40            # CTC+attention V, from scratch
ctc_att_av_epochs=15          # AV models, started from the A and V models (run.sh stage 10)
ctc_att_av_train_opts="--set train.lr=5e-4"   # fine-tuning: a quarter of the from-scratch peak lr (as in the default preset)
transducer_epochs=16          # transducers, started from the CTC+attention model of the same input
transducer_av_from_a=true     # AV transducers: predictor + joiner from transducer A, lr 5e-4 (started at 3e-3 with a
transducer_av_train_opts="--set train.lr=5e-4"   # new predictor, AV-concat was worse than A on clean speech)
# E2E token-output searches on the focus sets, besides the graph searches every model gets (HLG
# 1-best over the grammar and the trigram, HLG n-best + attention; the transducer's LG beam search)
ctc_att_token_methods="ctc_greedy ctc_prefix_beam attention_beam joint_ctc_attention"
transducer_token_methods="greedy modified_beam beam"
e2e_avg=5
# The embedded corpus's cross-accent test set (conf/corpus_<P>.yaml unseen_accent_speakers: its
# speakers' accents are never heard in training), a clean column of its own; other corpora have none.
unseen_accent_sets=; [[ ${corpus:-synthetic_grid} == synthetic_grid ]] && unseen_accent_sets=test_unseenaccent
test_sets_all="test $unseen_accent_sets test_babble_snr20 test_babble_snr10 test_babble_snr5 test_babble_snr0 test_babble_snr-5
  test_white_snr20 test_white_snr10 test_white_snr5 test_white_snr0 test_white_snr-5"
test_sets_focus="test $unseen_accent_sets test_babble_snr0 test_babble_snr-5"
# Stage 4, AV sync data QA (~25 s CPU on the default corpus): true | false; what it does with flagged clips
sync_qa=true
preset_sync_policy=keep    # keep (report only) | drop | shift; run.sh --sync-policy overrides
# Every system trained with two more seeds (run.sh --extra-seeds; "none" turns them off): the
# leaderboard's Seeds section and the claims' "holds for k of 3 seeds" come from them.
preset_extra_seeds="2 3"
