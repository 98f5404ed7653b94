"""Scoring an acoustic model (hybrid DNN or GMM) on one cut set: frame PER (CD-state
classification error against the forced alignment of the clean utterance) and, through an
HCLG graph, WER and PER (word hypotheses mapped to phones with the lexicon).

Everything keeps per-utterance error counts, so 95% bootstrap intervals can be computed by
resampling utterances (``bootstrap_interval`` here, or the leaderboard's own).

exp/<system>/score_<set>/summary.json
  {"system", "set", "frame_per", "frame_errors", "frames", "wer", "per", "acoustic_scale",
   "per_utt": {utt: {"frame_err", "frames", "word_err", "words", "phone_err", "phones"}}}
exp/<system>/score_<set>/hyp.txt, wer, per, per_word_decode, phone_hyp.txt
  (Kaldi-style lines, when decoded). "per" is from phone-level decoding (a phone-bigram
  graph, avsr.hybrid.phone_graph) when one is given, else from the word hypotheses mapped
  to phones; "per_source" says which.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from avsr.decode.decoder import DecodeOptions, DecodingGraph, decode_best
from avsr.score.wer import compute_error_stats, words_to_phones
from avsr.score import bootstrap as score_bootstrap
from avsr.utils.io import write_json_atomic, write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
ScoreFn = Callable[[str], np.ndarray]  # utt -> [T, C] log-posteriors / log-likelihoods


def log_priors(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """log p(s) from training-alignment counts. States never seen in training get the
    smallest observed prior, not a tiny floor: dividing a near-zero posterior by a near-zero
    prior would otherwise hand those states the best pseudo-likelihood of every frame."""
    counts = np.bincount(labels[labels >= 0], minlength=num_classes).astype(np.float64)
    if counts.sum() == 0:
        return np.full(num_classes, -np.log(num_classes), np.float32)
    counts[counts == 0] = counts[counts > 0].min()
    return np.log(counts / counts.sum()).astype(np.float32)


def bootstrap_interval(errors: Sequence[float], totals: Sequence[float], num_samples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval (percent) of sum(errors)/sum(totals) over utterances (nan if none)."""
    if len(errors) == 0:
        return (float("nan"), float("nan"))
    interval = score_bootstrap.bootstrap_interval(errors, totals, num_samples=num_samples, seed=seed)
    return interval.low, interval.high


def paired_bootstrap_better(e1, n1, e2, n2, num_samples: int = 1000, seed: int = 0) -> float:
    """P(system 1 has the lower error rate) over paired bootstrap resamples of the same utterances."""
    result = score_bootstrap.paired_bootstrap(e2, e1, n2, num_samples=num_samples, seed=seed, ref_lens_b=n1)
    return 1.0 - result.p_value


def frame_error_counts(scores: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> dict[str, tuple[int, int]]:
    """{utt: (wrongly classified frames, labelled frames)} by argmax of each frame's scores."""
    out = {}
    for utt, m in scores.items():
        y = np.asarray(labels[utt])
        n = min(len(y), len(m))
        out[utt] = (int((m[:n].argmax(1) != y[:n]).sum()), int(n))
    return out


def decode_scores(
    graph: DecodingGraph, pseudo_ll: Mapping[str, np.ndarray], acoustic_scale: float, beam: float = 13.0
) -> dict[str, list[str]]:
    """1-best words per utterance; an utterance whose search ended with no token in a final
    state is decoded again with a 2x, then 4x wider beam (Kaldi would emit a partial
    hypothesis instead); still nothing -> empty hypothesis (all deletions)."""
    hyps = {}
    for utt, m in pseudo_ll.items():
        best = None
        for widen in (1.0, 2.0, 4.0):
            best = decode_best(graph, m, DecodeOptions(beam=beam * widen, acoustic_scale=acoustic_scale), utt=utt)
            if best is not None:
                break
        hyps[utt] = best.words if best else []
    return hyps


def sweep_acoustic_scale(
    graph: DecodingGraph, pseudo_ll: Mapping[str, np.ndarray], refs: Mapping[str, Sequence[str]], scales: Sequence[float], beam: float = 13.0
) -> tuple[float, dict[str, float]]:
    """Pick the acoustic scale with the lowest WER (ties: the first) on a dev set."""
    wers = {}
    for s in scales:
        stats = compute_error_stats({u: refs[u] for u in pseudo_ll}, decode_scores(graph, pseudo_ll, s, beam))
        wers[str(s)] = round(stats.rate, 3)
    best = min(scales, key=lambda s: wers[str(s)])
    return float(best), wers


def score_set(
    system: str,
    set_name: str,
    scores: Mapping[str, np.ndarray],
    labels: Optional[Mapping[str, np.ndarray]],
    out_dir: PathLike,
    *,
    pseudo_ll: Optional[Mapping[str, np.ndarray]] = None,
    graph: Optional[DecodingGraph] = None,
    refs: Optional[Mapping[str, Sequence[str]]] = None,
    lexicon=None,
    acoustic_scale: float = 0.1,
    beam: float = 13.0,
    phone_graph: Optional[DecodingGraph] = None,
    extra: Optional[dict] = None,
) -> dict:
    """Frame PER (if ``labels``) and WER/PER (if ``graph``) of one set; writes score_<set>/."""
    out_dir = Path(out_dir)
    t0 = time.time()
    per_utt: dict[str, dict] = {u: {} for u in scores}
    summary: dict = {"system": system, "set": set_name, "num_utts": len(scores)}
    counts = frame_error_counts({u: scores[u] for u in scores if u in labels}, labels) if labels else {}
    if counts:  # no alignments for this set (e.g. another corpus's clips): no frame PER
        for u, (e, n) in counts.items():
            per_utt[u].update(frame_err=e, frames=n)
        tot_e, tot_n = sum(e for e, _ in counts.values()), sum(n for _, n in counts.values())
        summary.update(frame_per=round(100.0 * tot_e / max(tot_n, 1), 3), frame_errors=tot_e, frames=tot_n,
                       frame_per_ci95=[round(x, 3) for x in bootstrap_interval([c[0] for c in counts.values()], [c[1] for c in counts.values()])])
    if graph is not None and pseudo_ll is not None and refs is not None:
        hyps = decode_scores(graph, pseudo_ll, acoustic_scale, beam)
        ref_sub = {u: refs[u] for u in hyps}
        wstats = compute_error_stats(ref_sub, hyps)
        for a in wstats.utts:
            per_utt[a.utt].update(word_err=a.ins + a.dels + a.subs, words=len(a.ref))
        summary.update(wer=round(wstats.rate, 3), wer_line=wstats.kaldi_line("WER"), acoustic_scale=acoustic_scale,
                       wer_ci95=[round(x, 3) for x in bootstrap_interval([a.ins + a.dels + a.subs for a in wstats.utts], [len(a.ref) for a in wstats.utts])])
        write_text_atomic(out_dir / "hyp.txt", "".join(f"{u} {' '.join(w)}\n".replace(" \n", "\n") for u, w in sorted(hyps.items())))
        write_text_atomic(out_dir / "wer", wstats.kaldi_line("WER") + "\n")
        if lexicon is not None:
            ref_phones = words_to_phones(ref_sub, lexicon)
            pstats = compute_error_stats(ref_phones, words_to_phones(hyps, lexicon))
            for a in pstats.utts:
                per_utt[a.utt].update(phone_err=a.ins + a.dels + a.subs, phones=len(a.ref))
            summary.update(per_word_decode=round(pstats.rate, 3), per=round(pstats.rate, 3), per_source="word_decode",
                           per_line=pstats.kaldi_line("PER"))
            write_text_atomic(out_dir / "per_word_decode", pstats.kaldi_line("PER") + "\n")
            if phone_graph is not None:
                phone_hyps = decode_scores(phone_graph, pseudo_ll, acoustic_scale, beam)
                dstats = compute_error_stats(ref_phones, phone_hyps)
                for a in dstats.utts:
                    per_utt[a.utt].update(phone_err=a.ins + a.dels + a.subs, phones=len(a.ref))
                summary.update(per_phone_decode=round(dstats.rate, 3), per=round(dstats.rate, 3), per_source="phone_decode",
                               per_line=dstats.kaldi_line("PER"))
                write_text_atomic(out_dir / "phone_hyp.txt", "".join(f"{u} {' '.join(w)}\n".replace(" \n", "\n") for u, w in sorted(phone_hyps.items())))
            write_text_atomic(out_dir / "per", summary["per_line"] + "\n")
            summary["per_ci95"] = [round(x, 3) for x in bootstrap_interval([u["phone_err"] for u in per_utt.values() if "phone_err" in u],
                                                                            [u["phones"] for u in per_utt.values() if "phone_err" in u])]
    summary.update(extra or {})
    summary["seconds"] = round(time.time() - t0, 2)
    summary["per_utt"] = per_utt
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


SetScorer = Callable[[str], tuple]  # set -> (frame scores, pseudo log-likelihoods, labels, refs)


def sweep_and_score(
    model_dir: PathLike,
    scores_of: SetScorer,
    sets: Sequence[str],
    graph: Optional[DecodingGraph],
    graph_dir: Optional[PathLike],
    lexicon=None,
    phone_graph: Optional[DecodingGraph] = None,
    phone_sets: Optional[Sequence[str]] = None,
    dev_set: str = "dev",
    scales: Sequence[float] = (0.05, 0.1, 0.2),
    beam: float = 13.0,
    extra: Optional[dict] = None,
) -> dict[str, dict]:
    """The scoring loop of every acoustic model (GMM or hybrid): pick the acoustic scale on
    ``dev_set`` through ``graph`` (written to model_dir/decode.json), then :func:`score_set` each
    set into model_dir/score_<set>/. ``scores_of(set)`` gives the frame-classification scores, the
    pseudo log-likelihoods for decoding, the frame labels and the reference transcripts;
    ``phone_sets``: the sets decoded through ``phone_graph`` (default: all)."""
    model_dir = Path(model_dir)
    scale = 0.1
    if graph is not None:
        _, pseudo_ll, _, refs = scores_of(dev_set)
        scale, sweep = sweep_acoustic_scale(graph, pseudo_ll, refs, scales, beam)
        write_json_atomic(model_dir / "decode.json",
                          {"dev_set": dev_set, "sweep_wer": sweep, "acoustic_scale": scale, "graph": str(graph_dir)})
    out = {}
    for set_name in sets:
        t0 = time.time()
        frame_scores, pseudo_ll, labels, refs = scores_of(set_name)
        out[set_name] = score_set(
            model_dir.name, set_name, frame_scores, labels, model_dir / f"score_{set_name}",
            pseudo_ll=pseudo_ll if graph else None, graph=graph, refs=refs, lexicon=lexicon, acoustic_scale=scale,
            beam=beam, phone_graph=phone_graph if phone_sets is None or set_name in phone_sets else None,
            extra={"eval_seconds": round(time.time() - t0, 2), **(extra or {})})
        log.info("%s %s: frame PER %s WER %s", model_dir.name, set_name, out[set_name].get("frame_per"), out[set_name].get("wer"))
    return out
