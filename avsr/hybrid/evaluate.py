"""Scoring an acoustic model (hybrid DNN or GMM) on one cut set: the frame-level CD-state
classification error against the forced alignment of the clean utterance (the seed paper's
"frame PER"; its targets, e.g. the tri tree's senones, are named in the summary) and, through an
HCLG graph, WER and PER.

Everything keeps per-utterance error counts (and the utterance's speaker), so the leaderboard can
compute utterance- and speaker-cluster bootstrap intervals.

exp/<system>/score_<set>/summary.json
  {"system", "set", "frame_per", "frame_errors", "frames", "frame_targets", "wer", "per_word_decode",
   "per_phone_decode", "acoustic_scale", "search_failures", "search_failed_utts", "search_retries",
   "phone_search_failures", "phone_search_failed_utts",
   "per_utt": {utt: {"spk", "frame_err", "frames", "word_err", "words", "word_phone_err", "word_phones",
                     "phone_err", "phones", "search_failed", "phone_search_failed"}}}
exp/<system>/score_<set>/hyp.txt, wer, per_word_decode, per, phone_hyp.txt (Kaldi-style lines).
Two PERs are kept apart because they are different metrics: ``phone_err`` / ``per_phone_decode``
from phone-level decoding (a phone-bigram graph, avsr.hybrid.phone_graph; only the sets given
one), ``word_phone_err`` / ``per_word_decode`` from the word hypotheses mapped to phones.

A search that reaches no final state (even after widening the beam 2x and 4x) is a *failure*:
its best partial hypothesis is scored (Kaldi's --allow-partial) and it is counted per set.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
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
BEAM_WIDENINGS = (1.0, 2.0, 4.0)


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


@dataclass
class DecodeResult:
    """1-best words per utterance, and which searches needed a wider beam or failed."""

    hyps: dict[str, list[str]]
    failed: list[str] = field(default_factory=list)  # no final state at any beam: best partial path scored
    retried: list[str] = field(default_factory=list)  # reached a final state only with a widened beam


def decode_scores(
    graph: DecodingGraph, pseudo_ll: Mapping[str, np.ndarray], acoustic_scale: float, beam: float = 13.0
) -> DecodeResult:
    """1-best words per utterance. A search that ends with no token in a final state is run
    again with a 2x, then 4x wider beam; if it still fails, the best partial hypothesis of the
    widest search is kept (Kaldi's --allow-partial) and the utterance is listed in ``failed``."""
    out = DecodeResult({})
    for utt, m in pseudo_ll.items():
        best = None
        for k, widen in enumerate(BEAM_WIDENINGS):
            best = decode_best(graph, m, DecodeOptions(beam=beam * widen, acoustic_scale=acoustic_scale), utt=utt)
            if best is not None and not best.partial:
                if k:
                    out.retried.append(utt)
                break
        out.hyps[utt] = best.words if best else []
        if best is None or best.partial:
            out.failed.append(utt)
    return out


def sweep_acoustic_scale(
    graph: DecodingGraph, pseudo_ll: Mapping[str, np.ndarray], refs: Mapping[str, Sequence[str]], scales: Sequence[float], beam: float = 13.0
) -> tuple[float, dict[str, float], dict[str, int]]:
    """Pick the acoustic scale with the lowest WER (ties: the first) on a dev set; returns
    (scale, WER per scale, search failures per scale)."""
    wers, failures = {}, {}
    for s in scales:
        result = decode_scores(graph, pseudo_ll, s, beam)
        stats = compute_error_stats({u: refs[u] for u in pseudo_ll}, result.hyps)
        wers[str(s)] = round(stats.rate, 3)
        failures[str(s)] = len(result.failed)
    best = min(scales, key=lambda s: wers[str(s)])
    return float(best), wers, failures


def _hyp_text(hyps: Mapping[str, Sequence[str]]) -> str:
    return "".join(f"{u} {' '.join(w)}\n".replace(" \n", "\n") for u, w in sorted(hyps.items()))


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
    speakers: Optional[Mapping[str, str]] = None,
    frame_targets: Optional[dict] = None,
    extra: Optional[dict] = None,
) -> dict:
    """Frame error (if ``labels``) and WER/PER (if ``graph``) of one set; writes score_<set>/.
    ``speakers``: utt -> speaker (kept per utterance for speaker-cluster intervals);
    ``frame_targets``: what the frame labels are, e.g. {"source": "tri", "num_classes": 312}."""
    out_dir = Path(out_dir)
    t0 = time.time()
    per_utt: dict[str, dict] = {u: ({"spk": speakers[u]} if speakers and u in speakers else {}) for u in scores}
    summary: dict = {"system": system, "set": set_name, "num_utts": len(scores)}
    counts = frame_error_counts({u: scores[u] for u in scores if u in labels}, labels) if labels else {}
    if counts:  # no alignments for this set (e.g. another corpus's clips): no frame error
        for u, (e, n) in counts.items():
            per_utt[u].update(frame_err=e, frames=n)
        tot_e, tot_n = sum(e for e, _ in counts.values()), sum(n for _, n in counts.values())
        summary.update(frame_per=round(100.0 * tot_e / max(tot_n, 1), 3), frame_errors=tot_e, frames=tot_n,
                       frame_per_ci95=[round(x, 3) for x in bootstrap_interval([c[0] for c in counts.values()], [c[1] for c in counts.values()])])
        if frame_targets:
            summary["frame_targets"] = dict(frame_targets)
    if graph is not None and pseudo_ll is not None and refs is not None:
        result = decode_scores(graph, pseudo_ll, acoustic_scale, beam)
        hyps = result.hyps
        ref_sub = {u: refs[u] for u in hyps}
        wstats = compute_error_stats(ref_sub, hyps)
        for a in wstats.utts:
            per_utt[a.utt].update(word_err=a.ins + a.dels + a.subs, words=len(a.ref))
        for u in result.failed:
            per_utt[u]["search_failed"] = True
        summary.update(wer=round(wstats.rate, 3), wer_line=wstats.kaldi_line("WER"), acoustic_scale=acoustic_scale,
                       search_failures=len(result.failed), search_failed_utts=sorted(result.failed),
                       search_retries=len(result.retried),
                       wer_ci95=[round(x, 3) for x in bootstrap_interval([a.ins + a.dels + a.subs for a in wstats.utts], [len(a.ref) for a in wstats.utts])])
        if result.failed:
            log.warning("%s %s: %d of %d searches reached no final state (best partial hypotheses scored)",
                        system, set_name, len(result.failed), len(hyps))
        write_text_atomic(out_dir / "hyp.txt", _hyp_text(hyps))
        write_text_atomic(out_dir / "wer", wstats.kaldi_line("WER") + "\n")
        if lexicon is not None:
            ref_phones = words_to_phones(ref_sub, lexicon)
            pstats = compute_error_stats(ref_phones, words_to_phones(hyps, lexicon))
            for a in pstats.utts:
                per_utt[a.utt].update(word_phone_err=a.ins + a.dels + a.subs, word_phones=len(a.ref))
            summary.update(per_word_decode=round(pstats.rate, 3), per_word_decode_line=pstats.kaldi_line("PER"))
            write_text_atomic(out_dir / "per_word_decode", pstats.kaldi_line("PER") + "\n")
            if phone_graph is not None:
                phone = decode_scores(phone_graph, pseudo_ll, acoustic_scale, beam)
                dstats = compute_error_stats(ref_phones, phone.hyps)
                for a in dstats.utts:
                    per_utt[a.utt].update(phone_err=a.ins + a.dels + a.subs, phones=len(a.ref))
                for u in phone.failed:
                    per_utt[u]["phone_search_failed"] = True
                summary.update(per_phone_decode=round(dstats.rate, 3), per_line=dstats.kaldi_line("PER"),
                               phone_search_failures=len(phone.failed), phone_search_failed_utts=sorted(phone.failed),
                               per_ci95=[round(x, 3) for x in bootstrap_interval([a.ins + a.dels + a.subs for a in dstats.utts],
                                                                                [len(a.ref) for a in dstats.utts])])
                write_text_atomic(out_dir / "phone_hyp.txt", _hyp_text(phone.hyps))
                write_text_atomic(out_dir / "per", dstats.kaldi_line("PER") + "\n")
    summary.update(extra or {})
    summary["seconds"] = round(time.time() - t0, 2)
    summary["per_utt"] = per_utt
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


@dataclass
class SetScores:
    """What scoring one set needs: frame-classification scores, pseudo log-likelihoods for
    decoding, frame labels (targets), reference transcripts, and each utterance's speaker."""

    frame_scores: Mapping[str, np.ndarray]
    pseudo_ll: Mapping[str, np.ndarray]
    labels: Mapping[str, np.ndarray]
    refs: Mapping[str, Sequence[str]]
    speakers: Mapping[str, str] = field(default_factory=dict)


SetScorer = Callable[[str], SetScores]


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
    frame_targets: Optional[dict] = None,
) -> dict[str, dict]:
    """The scoring loop of every acoustic model (GMM or hybrid): pick the acoustic scale on
    ``dev_set`` through ``graph`` (written to model_dir/decode.json), then :func:`score_set` each
    set into model_dir/score_<set>/. ``scores_of(set)`` gives the set's :class:`SetScores`;
    ``phone_sets``: the sets decoded through ``phone_graph`` (default: all)."""
    model_dir = Path(model_dir)
    scale = 0.1
    if graph is not None:
        dev = scores_of(dev_set)
        scale, sweep, failures = sweep_acoustic_scale(graph, dev.pseudo_ll, dev.refs, scales, beam)
        write_json_atomic(model_dir / "decode.json",
                          {"dev_set": dev_set, "sweep_wer": sweep, "sweep_search_failures": failures,
                           "acoustic_scale": scale, "graph": str(graph_dir)})
    out = {}
    for set_name in sets:
        t0 = time.time()
        s = scores_of(set_name)
        out[set_name] = score_set(
            model_dir.name, set_name, s.frame_scores, s.labels, model_dir / f"score_{set_name}",
            pseudo_ll=s.pseudo_ll if graph else None, graph=graph, refs=s.refs, lexicon=lexicon, acoustic_scale=scale,
            beam=beam, phone_graph=phone_graph if phone_sets is None or set_name in phone_sets else None,
            speakers=s.speakers, frame_targets=frame_targets,
            extra={"eval_seconds": round(time.time() - t0, 2), **(extra or {})})
        log.info("%s %s: frame error %s WER %s (%s search failures)", model_dir.name, set_name, out[set_name].get("frame_per"),
                 out[set_name].get("wer"), out[set_name].get("search_failures", "-"))
    return out
