"""Scoring a GMM-HMM system like the hybrids (the "mono" and "tri" leaderboard rows):
GMM log-likelihoods -> HCLG decoding (acoustic scale swept on dev) -> WER / PER, and frame
PER = argmax_s log p(x|s) + log p(s) against the forced alignment of the clean utterance."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from avsr.hmm.alignment import read_alignments
from avsr.hmm.cuts import clean_id, gmm_feature_dict, load_cuts, transcripts
from avsr.hmm.features import GmmFeatureConfig
from avsr.hmm.pipeline import load_gmm_model
from avsr.hybrid.evaluate import log_priors, score_set, sweep_acoustic_scale
from avsr.utils.io import write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


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
        ali = read_alignments(model_dir / f"ali_{set_name.split('_')[0]}.npz")
        clean = {c.id: clean_id(c) for c in cuts}
        labels = {u: ali[clean[u]].pdf for u in ll if clean[u] in ali}
        return ll, labels, transcripts(cuts)

    scale, info = 0.1, {}
    if graph is not None:
        ll, _, refs = scores_of(dev_set)
        scale, sweep = sweep_acoustic_scale(graph, ll, refs, scales, beam)
        info = {"dev_set": dev_set, "sweep_wer": sweep, "acoustic_scale": scale, "graph": str(graph_dir)}
        write_json_atomic(model_dir / "decode.json", info)
    out = {}
    for s in sets:
        t0 = time.time()
        ll, labels, refs = scores_of(s)
        classify = {u: m + priors for u, m in ll.items()}  # frame classification uses the prior
        out[s] = score_set(model_dir.name, s, classify, labels, model_dir / f"score_{s}", pseudo_ll=ll if graph else None,
                           graph=graph, refs=refs, lexicon=lexicon, acoustic_scale=scale, beam=beam,
                           phone_graph=phone_graph if phone_sets is None or s in phone_sets else None,
                           extra={"eval_seconds": round(time.time() - t0, 2)})
        log.info("%s %s: frame PER %s WER %s", model_dir.name, s, out[s].get("frame_per"), out[s].get("wer"))
    return out
