# Preset "tiny": a smoke run in a few minutes (tests; conf/corpus_tiny.yaml: 40 utterances).
# Same stages and systems as the default preset, with minimal training and two test conditions.

hybrid_epochs=2            # hybrid DNNs
ctc_att_epochs=2           # CTC+attention A, from scratch
ctc_att_v_epochs=2            # CTC+attention V, from scratch
ctc_att_av_epochs=1        # AV models, started from the A and V models
transducer_epochs=1        # transducers, started from the CTC+attention model of the same input
# E2E token-output searches on the focus sets, besides the graph searches every model gets (HLG
# 1-best over the grammar and the trigram, HLG n-best + attention; the transducer's LG beam search)
ctc_att_token_methods="ctc_greedy joint_ctc_attention"
transducer_token_methods="greedy modified_beam"
e2e_avg=1                  # checkpoints averaged for decoding
# The embedded corpus's cross-accent test set (conf/corpus_<P>.yaml unseen_accent_speakers: its
# speakers' accents are never heard in training), a clean column of its own; other corpora have none.
unseen_accent_sets=; [[ ${corpus:-synthetic_grid} == synthetic_grid ]] && unseen_accent_sets=test_unseenaccent
test_sets_all="test $unseen_accent_sets test_babble_snr0"
test_sets_focus="test test_babble_snr0"
# Stage 4, AV sync data QA (~25 s CPU on the default corpus): true | false; what it does with flagged clips
sync_qa=true
preset_sync_policy=keep    # keep (report only) | drop | shift; run.sh --sync-policy overrides
