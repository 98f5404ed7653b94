"""Audio-visual synchrony: a self-supervised sync model, per-clip offset estimation (learned and
cross-correlation), the data-QA stage (report, plot, keep | drop | shift of flagged clips) and
the offset-robustness tools for the AV systems.

Modules: ``shift`` (the one video-shift function every loader calls), ``streams`` (per-clip
inputs), ``model`` / ``train`` (two-stream network, multi-way and contrastive losses),
``xcorr`` (baseline), ``scoring`` / ``estimate`` (score curves -> offset + confidence),
``evaluate`` (injected-offset accuracy, AUC), ``qa`` (the stage), ``report`` (JSON + plot).
"""
