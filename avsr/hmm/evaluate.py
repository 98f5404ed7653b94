"""Scoring a GMM-HMM system like the hybrids (the "mono" and "tri" leaderboard rows):
GMM log-likelihoods -> HCLG decoding (acoustic scale swept on dev) -> WER / PER, and frame
error = argmax_s log p(x|s) + log p(s) against the forced alignment of the clean utterance
(targets: the system's own pdfs, so mono and tri frame errors are different metrics)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from avsr.data.splits import base_split
from avsr.hmm.alignment import read_alignments
from avsr.hmm.cuts import clean_id, gmm_feature_dict, load_cuts, speakers, transcripts
from avsr.hmm.features import GmmFeatureConfig
from avsr.hmm.pipeline import load_gmm_model
from avsr.hybrid.evaluate import SetScores, log_priors, sweep_and_score

PathLike = Union[str, Path]


def evaluate_gmm(
    model_dir: PathLike,
    feature_dir: PathLike,
    corpus: str,
    sets: Sequence[str],
    graph_dir: Optional[PathLike] = None,
    lexicon_file: Optional[PathLike] = None,
    dev_set: str = "dev",
    scales: Sequence[float] = (0.05, 0.067, 0.083, 0.1, 0.125, 0.15),
    beam: float = 13.0,
    phone_graph_dir: Optional[PathLike] = None,
    phone_sets: Optional[Sequence[str]] = None,
) -> dict[str, dict]:
    """WER/PER (and frame PER) of a GMM system on every set; ``phone_sets``: the sets decoded
    through the phone graph for PER (default: all; the others get PER from the word hypotheses)."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.lang.lexicon import read_lexicon

    model_dir = Path(model_dir)
    model = load_gmm_model(model_dir)
    feat_cfg = GmmFeatureConfig(**model.feature_config)
    train_ali = read_alignments(model_dir / "ali_train.npz")
    priors = log_priors(np.concatenate([a.pdf for a in train_ali.values()]).astype(np.int64), model.num_pdfs)
    graph = DecodingGraph.load(graph_dir) if graph_dir else None
    phone_graph = DecodingGraph.load(phone_graph_dir) if phone_graph_dir else None
    lexicon = read_lexicon(lexicon_file) if lexicon_file else None

    def scores_of(set_name: str):
        cuts = load_cuts(feature_dir, corpus, set_name)
        feats = gmm_feature_dict(cuts, feat_cfg, desc=f"GMM features {set_name}")
        ll = {u: model.log_likelihoods(x) for u, x in feats.items()}
        ali = read_alignments(model_dir / f"ali_{base_split(set_name)}.npz")
        clean = {c.id: clean_id(c) for c in cuts}
        labels = {u: ali[clean[u]].pdf for u in ll if clean[u] in ali}
        classify = {u: m + priors for u, m in ll.items()}  # frame classification uses the prior
        return SetScores(classify, ll, labels, transcripts(cuts), speakers(cuts))

    # the frame targets are this model's own pdfs: monophone states (mono) or the tree's senones (tri)
    targets = {"source": model_dir.name, "num_classes": int(model.num_pdfs), "kind": getattr(model, "kind", "gmm")}
    return sweep_and_score(model_dir, scores_of, sets, graph, graph_dir, lexicon, phone_graph, phone_sets,
                           dev_set, scales, beam, frame_targets=targets)
