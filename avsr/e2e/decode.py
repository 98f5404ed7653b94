"""Decode cut sets with a trained E2E model and score them.

Per (test set, modality condition, method) the output directory
``<exp>/decode_epoch<E>_avg<A>/<set>[_no-<stream>]/<method>/`` (HLG methods: ``<method>_<graph dir
name>``, e.g. ``hlg_1best_hlg_bpe_grid``) gets ``hyp.txt`` and ``ref.txt``
(Kaldi ``text``), ``wer`` (``%WER ...`` line, as steps/score.py writes), ``per_utt`` alignments,
and ``score.json`` (system, model, fusion, set, noise, snr, modality, method, WER and counts,
decode seconds, audio seconds, RTF) for the leaderboard.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
import yaml

from avsr.e2e.search_attention import attention_beam_search
from avsr.e2e.search_ctc import ctc_greedy, ctc_prefix_beam_search
from avsr.e2e.search_transducer import beam_search, greedy_search, modified_beam_search
from avsr.e2e.tokens import BpeTokenizer
from avsr.models.ctc_attention import CtcAttentionModel
from avsr.models.factory import build_model
from avsr.models.transducer import TransducerModel
from avsr.score.wer import compute_error_stats, format_alignments
from avsr.train.checkpoint import averaged_model_state, latest_epoch
from avsr.train.data import FeatureCache, collate, eval_batches
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic, write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)

CTC_ATTENTION_METHODS = ("ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention",
                         "hlg_1best", "hlg_nbest_attention")
TRANSDUCER_METHODS = ("greedy", "beam", "modified_beam")  # + ctc_greedy / ctc_prefix_beam when trained with aux CTC


@dataclass
class SearchOptions:
    beam: int = 8
    ctc_weight: float = 0.3  # joint CTC/attention
    transducer_beam: int = 4
    max_sym_per_frame: int = 3
    hlg_dir: Optional[str] = None  # graph dir with HLG.fst + words.txt (+ tokens map) for hlg_* methods
    hlg_beam: float = 20.0
    nbest: int = 10
    nbest_attention_weight: float = 0.5
    acoustic_scale: float = 1.0


def load_e2e_model(exp_dir: PathLike, epoch: Optional[int] = None, avg: int = 1,
                   device: Union[str, torch.device] = "cpu") -> tuple[torch.nn.Module, dict[str, Any], BpeTokenizer, int]:
    """Model with the averaged weights of epochs epoch−avg+1..epoch (default: the last epoch)."""
    exp_dir = Path(exp_dir)
    cfg_path = exp_dir / "config.yaml"
    if not cfg_path.is_file():
        raise AvsrInputError(cfg_path, "no config.yaml: is this a trained E2E experiment directory?")
    cfg = yaml.safe_load(cfg_path.read_text())
    epoch = epoch or latest_epoch(exp_dir)
    if epoch is None:
        raise AvsrInputError(exp_dir, "no epoch-N.pt checkpoint: train first")
    tokenizer = BpeTokenizer(exp_dir / "tokens" / "bpe.model")
    model = build_model(cfg, tokenizer.vocab_size)
    model.load_state_dict(averaged_model_state(exp_dir, epoch, min(avg, epoch)))
    model.to(device).eval()
    return model, cfg, tokenizer, epoch


def methods_for(model: torch.nn.Module) -> tuple[str, ...]:
    return CTC_ATTENTION_METHODS if isinstance(model, CtcAttentionModel) else TRANSDUCER_METHODS


def _search_fn(model: torch.nn.Module, method: str, opts: SearchOptions, hlg=None) -> Callable[[torch.Tensor, int], list[int]]:
    """method → f(encodings [T, D], length) → token ids."""
    if method == "ctc_greedy":
        return lambda enc, n: ctc_greedy(model.ctc_log_probs(enc[:n]), model.blank_id)
    if method == "ctc_prefix_beam":
        return lambda enc, n: ctc_prefix_beam_search(model.ctc_log_probs(enc[:n]), opts.beam, model.blank_id,
                                                     token_prune=opts.beam)[0][0]
    if isinstance(model, CtcAttentionModel):
        if method == "attention_beam":
            return lambda enc, n: attention_beam_search(model, enc, n, opts.beam)[0][0]
        if method == "joint_ctc_attention":
            return lambda enc, n: attention_beam_search(model, enc, n, opts.beam, ctc_weight=opts.ctc_weight)[0][0]
    if isinstance(model, TransducerModel):
        if method == "greedy":
            return lambda enc, n: greedy_search(model, enc, n, opts.max_sym_per_frame)
        if method == "beam":
            return lambda enc, n: beam_search(model, enc, n, opts.transducer_beam, opts.max_sym_per_frame)[0][0]
        if method == "modified_beam":
            return lambda enc, n: modified_beam_search(model, enc, n, opts.transducer_beam)[0][0]
    raise AvsrInputError(None, f"unknown decoding method {method!r} for {type(model).__name__}; "
                         f"choose from {methods_for(model)}")


def parse_condition(test_set: str) -> tuple[str, str, Optional[float]]:
    """'test_babble_snr-5' → ('test', 'babble', -5.0); 'test' → ('test', 'clean', None)."""
    m = re.match(r"^(.*?)_(white|babble)_snr(-?\d+(?:\.\d+)?)$", test_set)
    if not m:
        return test_set, "clean", None
    return m.group(1), m.group(2), float(m.group(3))


@torch.no_grad()
def decode_cache(model: torch.nn.Module, tokenizer: BpeTokenizer, cache: FeatureCache, methods: Sequence[str],
                 opts: SearchOptions, device: torch.device, drop: Optional[str] = None,
                 max_duration: float = 60.0) -> tuple[dict[str, dict[str, list[str]]], dict[str, float], float]:
    """Decode every utterance with every method. Returns (method → utt → words, method → seconds
    (search + that method's share of the encoder time: each method is timed as if run alone),
    encoder seconds)."""
    hlg = None
    if any(m.startswith("hlg") for m in methods):
        from avsr.e2e.hlg import HlgDecoder

        hlg = HlgDecoder.load(opts.hlg_dir, tokenizer, opts)
    fns = {m: (_search_fn(model, m, opts) if not m.startswith("hlg") else None) for m in methods}
    hyps: dict[str, dict[str, list[str]]] = {m: {} for m in methods}
    seconds = {m: 0.0 for m in methods}
    encode_seconds = 0.0
    for ids in eval_batches(cache, max_duration):
        batch = collate([cache.utts[i] for i in ids]).to(device)
        t0 = time.perf_counter()
        enc, lengths = model.encode(batch, drop=drop)
        encode_seconds += time.perf_counter() - t0
        for m in methods:
            t0 = time.perf_counter()
            for b, utt in enumerate(ids):
                n = int(lengths[b])
                if m.startswith("hlg"):
                    text = hlg.decode(model, enc[b], n, rescore_with_attention=(m == "hlg_nbest_attention"),
                                      tokenizer=tokenizer)
                else:
                    text = tokenizer.decode(fns[m](enc[b], n))
                hyps[m][utt] = text.split()
            seconds[m] += time.perf_counter() - t0
    return hyps, {m: s + encode_seconds for m, s in seconds.items()}, encode_seconds


def write_scores(out_dir: PathLike, refs: dict[str, list[str]], hyps: dict[str, list[str]],
                 meta: dict[str, Any]) -> dict[str, Any]:
    """hyp.txt, ref.txt, wer, per_utt, score.json in ``out_dir``; returns the score record."""
    out_dir = Path(out_dir)
    stats = compute_error_stats(refs, hyps)
    write_text_atomic(out_dir / "hyp.txt", "".join(f"{u} {' '.join(hyps.get(u, []))}".rstrip() + "\n" for u in sorted(refs)))
    write_text_atomic(out_dir / "ref.txt", "".join(f"{u} {' '.join(refs[u])}\n" for u in sorted(refs)))
    write_text_atomic(out_dir / "wer", stats.kaldi_line("WER") + "\n")
    write_text_atomic(out_dir / "per_utt", format_alignments(stats))
    record = dict(meta, wer=round(stats.rate, 3), errors=stats.errors, ref_words=stats.ref_len, ins=stats.ins,
                  dels=stats.dels, subs=stats.subs, num_utts=len(refs))
    write_json_atomic(out_dir / "score.json", record)
    return record


def decode_sets(exp_dir: PathLike, caches: dict[str, FeatureCache], methods: Optional[Sequence[str]] = None,
                epoch: Optional[int] = None, avg: int = 1, drop: Optional[str] = None,
                opts: SearchOptions = SearchOptions(), device: str = "cpu") -> list[dict[str, Any]]:
    """Decode and score each named cut set; returns the score records (also written to disk)."""
    exp_dir = Path(exp_dir)
    dev = torch.device(device)
    model, cfg, tokenizer, epoch = load_e2e_model(exp_dir, epoch, avg, dev)
    methods = list(methods or [m for m in methods_for(model) if not m.startswith("hlg")])
    fusion = cfg["frontend"]["fusion"]
    for name, cache in caches.items():
        cache.check_video(fusion, name)
    modality = {"audio": "A", "video": "V"}.get(fusion, "AV")
    if drop:
        modality = {"audio": "V", "video": "A"}[drop] + f"(of {modality}-{fusion})"
    records = []
    for name, cache in caches.items():
        base, noise, snr = parse_condition(name)
        audio_seconds = sum(u.duration for u in cache.utts.values())
        hyps, seconds, enc_s = decode_cache(model, tokenizer, cache, methods, opts, dev, drop)
        refs = {u.id: u.text.split() for u in cache.utts.values()}
        for m in methods:
            label = f"{m}_{Path(opts.hlg_dir).name}" if m.startswith("hlg") and opts.hlg_dir else m  # graph in the name
            out = exp_dir / f"decode_epoch{epoch}_avg{avg}" / (name + (f"_no-{drop}" if drop else "")) / label
            meta = {"system": exp_dir.name, "model": cfg["model"], "fusion": fusion, "modality": modality,
                    "test_set": name, "base_set": base, "noise": noise, "snr": snr, "method": label, "epoch": epoch,
                    "avg": avg, "decode_seconds": round(seconds[m], 3), "encoder_seconds": round(enc_s, 3),
                    "audio_seconds": round(audio_seconds, 3), "rtf": round(seconds[m] / max(audio_seconds, 1e-9), 5),
                    "options": asdict(opts)}
            rec = write_scores(out, refs, hyps[m], meta)
            log.info("%s %s %s %s: %%WER %.2f (RTF %.4f)", exp_dir.name, name, drop and f"no-{drop}" or "", label,
                     rec["wer"], rec["rtf"])
            records.append(rec)
    return records
