"""Find and read every score file under an experiment directory.

* GMM / hybrid: ``exp/<system>/score_<set>/summary.json`` (format: avsr/hybrid/evaluate.py).
* E2E: ``exp/<system>/decode_epoch<E>_avg<A>/<set>[_no-<stream>]/<method>/score.json`` with
  ``hyp.txt`` / ``ref.txt`` (and ``utt2spk``) next to it; per-utterance word errors are
  recomputed from those, phone errors by mapping both sides to phones with the lexicon.

Search failures (``search_failures`` in either file) and speakers are read along.

Systems are discovered by globbing; ``SYSTEM_ORDER`` / ``METHOD_ORDER`` only order rows.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from avsr.leaderboard.conditions import parse_set_name
from avsr.leaderboard.records import FAMILIES, Score, SystemRow, utt_counts
from avsr.score.wer import compute_error_stats, read_text, words_to_phones
from avsr.utils.errors import AvsrInputError

if TYPE_CHECKING:  # avsr.lang.lexicon pulls in espeak/scipy (seconds): imported only when a lexicon is read
    from avsr.lang.lexicon import Lexicon

PathLike = Union[str, Path]
log = logging.getLogger(__name__)

SYSTEM_ORDER = ("mono", "tri", "tri_vf", "hybrid_audio", "hybrid_video", "hybrid_concat", "hybrid_deep_fusion",
                "hybrid_shallow_fusion", "hybrid_bilinear", "hybrid_factored", "hybrid_shared_factored",
                "hybrid_posterior_average")
METHOD_ORDER = ("ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention", "hlg_1best",
                "hlg_nbest_attention", "greedy", "beam", "modified_beam")
E2E_FAMILIES = {"ctc_attention": "CTC+attention", "transducer": "transducer"}
OOV_PHONE = "<oov>"  # an E2E hypothesis word outside the lexicon: one wrong phone, never a crash
_DECODE_DIR = re.compile(r"^decode_epoch(\d+)_avg(\d+)$")
def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise AvsrInputError(path, f"unreadable score file ({err})") from err


def _hybrid_family_and_modality(system_dir: Path) -> tuple[str, str]:
    """Hybrid DNN systems are named hybrid_<variant> (train.json has "variant"); others are GMMs."""
    variant = None
    train = system_dir / "train.json"
    if train.is_file():
        variant = _read_json(train).get("variant")
    name = system_dir.name
    if variant is None and name.startswith("hybrid_"):
        variant = name[len("hybrid_"):]
    if variant is not None:
        return "hybrid", {"audio": "A", "video": "V"}.get(variant, "AV")
    return "GMM", "V" if "video" in name else "A"


def _summary_keys(d: dict) -> dict[str, tuple[str, str, Optional[str]]]:
    """metric -> (error key, length key, rate key) for this summary.json. Files written before the
    two PERs were kept apart hold one "per" and a "per_source" saying which of the two it is."""
    keys = {"wer": ("word_err", "words", "wer"), "frame_per": ("frame_err", "frames", "frame_per")}
    if "per_word_decode" in d and "per_source" not in d:  # current format
        keys["per_word"] = ("word_phone_err", "word_phones", "per_word_decode")
        if "per_phone_decode" in d:
            keys["per"] = ("phone_err", "phones", "per_phone_decode")
    elif d.get("per_source") == "phone_decode":
        keys["per"] = ("phone_err", "phones", "per")
    elif d.get("per_source") == "word_decode":
        keys["per_word"] = ("phone_err", "phones", "per")
    return keys


def frame_targets_label(d: dict) -> Optional[str]:
    """e.g. "tri: 312 CD states (senones)" or "mono: 118 monophone states" (the alignment model
    and its number of pdfs; the label depends on the targets only, so a hybrid trained on the tri
    alignment shares its table with tri)."""
    t = d.get("frame_targets")
    if isinstance(t, dict) and t.get("source"):
        what = "monophone states" if t.get("kind") == "mono" else "CD states (senones)"
        return f"{t['source']}: {t.get('num_classes', '?')} {what}"
    return None


def load_summary(path: Path) -> Score:
    """One ``score_<set>/summary.json`` → Score (rates from the file, counts from per_utt)."""
    d = _read_json(path)
    set_name = d.get("set") or path.parent.name[len("score_"):]
    _, condition = parse_set_name(set_name)
    score = Score(set_name, condition, path, per_source="word_decode")
    per_utt = d.get("per_utt", {})
    for metric, (e_key, n_key, rate_key) in _summary_keys(d).items():
        if d.get(rate_key) is not None:
            score.rates[metric] = float(d[rate_key])
        pairs = {u: (c[e_key], c[n_key]) for u, c in per_utt.items() if e_key in c and n_key in c}
        if pairs and sum(n for _, n in pairs.values()) > 0:
            score.counts[metric] = utt_counts(pairs)
            score.rates.setdefault(metric, score.counts[metric].rate)
    if "search_failures" in d:
        score.failures["wer"] = score.failures["per_word"] = int(d["search_failures"])
    if "phone_search_failures" in d:
        score.failures["per"] = int(d["phone_search_failures"])
    score.speakers = {u: c["spk"] for u, c in per_utt.items() if c.get("spk")}
    score.frame_targets = frame_targets_label(d)
    return score


def collect_hybrid(exp: Path, split: str) -> list[SystemRow]:
    """Every system with ``score_<split>[_<noise>_snr<N>]/summary.json``."""
    rows: dict[str, SystemRow] = {}
    for path in sorted(exp.glob("*/score_*/summary.json")):
        set_name = path.parent.name[len("score_"):]
        base, _ = parse_set_name(set_name)
        if base != split:
            continue
        system_dir = path.parent.parent
        if system_dir.name not in rows:
            family, modality = _hybrid_family_and_modality(system_dir)
            rows[system_dir.name] = SystemRow(system_dir.name, system_dir.name, family, modality)
        score = load_summary(path)
        rows[system_dir.name].scores[score.condition] = score
        if rows[system_dir.name].frame_targets is None and "frame_per" in score.rates:
            rows[system_dir.name].frame_targets = score.frame_targets
    return list(rows.values())


def _oov_safe_lexicon(lexicon: "Lexicon", words) -> "Lexicon":
    """The lexicon plus a one-phone entry for each unknown word (hypotheses may hold any word)."""
    from avsr.lang.lexicon import Lexicon, LexiconEntry

    known = set(lexicon.words)
    extra = [LexiconEntry(w, (OOV_PHONE,)) for w in sorted(set(words) - known)]
    return Lexicon(list(lexicon.entries) + extra) if extra else lexicon


def _read_utt2spk(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                out[fields[0]] = fields[1]
    return out


def load_e2e_score(path: Path, lexicon: Optional["Lexicon"]) -> tuple[dict, Score]:
    """One E2E ``score.json`` (+ hyp.txt / ref.txt / utt2spk) → (the record, Score). A model whose
    outputs are phones (score.json ``"metric": "per"``) gives a phone-level PER, not a WER."""
    rec = _read_json(path)
    set_dir = path.parent.parent.name
    set_name = rec.get("test_set") or set_dir.split("_no-")[0]
    _, condition = parse_set_name(set_name)
    score = Score(set_name, condition, path)
    metric = rec.get("metric", "wer")
    if rec.get(metric) is not None:
        score.rates["per" if metric == "per" else "wer"] = float(rec[metric])
    score.speakers = _read_utt2spk(path.parent / "utt2spk")
    hyp_path, ref_path = path.parent / "hyp.txt", path.parent / "ref.txt"
    if rec.get("search_failures") is not None:
        score.failures["per" if metric == "per" else "wer"] = int(rec["search_failures"])
        if metric != "per":
            score.failures["per_word"] = int(rec["search_failures"])
    if not (hyp_path.is_file() and ref_path.is_file()):
        log.warning("%s: no hyp.txt/ref.txt, %s without interval", path.parent, metric.upper())
        return rec, score
    refs, hyps = read_text(ref_path), read_text(hyp_path)
    stats = compute_error_stats(refs, hyps)
    counts = utt_counts({a.utt: (a.ins + a.dels + a.subs, len(a.ref)) for a in stats.utts})
    if metric == "per":  # phone outputs scored against phone references: a phone-level decoding
        score.counts["per"] = counts
        return rec, score
    score.counts["wer"] = counts
    if lexicon is not None:
        ref_phones = words_to_phones(refs, lexicon, source=str(ref_path))  # a reference OOV is an error
        hyp_lex = _oov_safe_lexicon(lexicon, (w for ws in hyps.values() for w in ws))
        pstats = compute_error_stats(ref_phones, words_to_phones(hyps, hyp_lex, source=str(hyp_path)))
        score.counts["per_word"] = utt_counts({a.utt: (a.ins + a.dels + a.subs, len(a.ref)) for a in pstats.utts})
        score.rates["per_word"] = score.counts["per_word"].rate
        score.per_source = "word_to_phone"
    return rec, score


def _latest_decode_dirs(exp: Path) -> list[Path]:
    """Per system, the decode_epoch<E>_avg<A> dir with the highest (E, A): the final model."""
    best: dict[Path, tuple[tuple[int, int], Path]] = {}
    for d in exp.glob("*/decode_epoch*_avg*"):
        m = _DECODE_DIR.match(d.name)
        if m and d.is_dir():
            key = (int(m.group(1)), int(m.group(2)))
            if d.parent not in best or key > best[d.parent][0]:
                best[d.parent] = (key, d)
    return [d for _, d in sorted(best.values(), key=lambda kv: str(kv[1]))]


def collect_e2e(exp: Path, split: str, lexicon: Optional["Lexicon"]) -> list[SystemRow]:
    """Rows (system × method × dropped stream) from the latest decode dir of each E2E system."""
    rows: dict[str, SystemRow] = {}
    for decode_dir in _latest_decode_dirs(exp):
        for path in sorted(decode_dir.glob("*/*/score.json")):
            rec, score = load_e2e_score(path, lexicon)
            base, _ = parse_set_name(score.set_name)
            if base != split:
                continue
            set_dir = path.parent.parent.name
            dropped = set_dir.split("_no-", 1)[1] if "_no-" in set_dir else None
            method = rec.get("method") or path.parent.name
            # the system dir's name, not score.json's "system": a seed run's models are decoded
            # as <exp>/seed_runs/seed<N>/<system> and linked as <exp>/<system>_seed<N> (their
            # score.json says <system>); taking that name would merge them into the main row
            system = decode_dir.parent.name
            key = f"{system} / {method}" + (f" (no-{dropped})" if dropped else "")
            if key not in rows:
                fusion = rec.get("fusion")
                modality = rec.get("modality") or {"audio": "A", "video": "V"}.get(fusion, "AV")
                family = E2E_FAMILIES.get(rec.get("model"), rec.get("model") or "E2E")
                rows[key] = SystemRow(key, system, family, modality, method, dropped, fusion, decode_dir.name)
            rows[key].scores[score.condition] = score
    return list(rows.values())


def method_rank(method: str) -> tuple[int, str]:
    for i, m in enumerate(METHOD_ORDER):
        if method == m or method.startswith(m + "_"):
            return i, method
    return len(METHOD_ORDER), method


def row_sort_key(row: SystemRow) -> tuple:
    """Family, then the ordering hint (or A < V < AV for E2E), then method, dropped streams last;
    seed runs right after their main system."""
    family_rank = FAMILIES.index(row.family) if row.family in FAMILIES else len(FAMILIES)
    base = row.base_system
    system_rank = SYSTEM_ORDER.index(base) if base in SYSTEM_ORDER else len(SYSTEM_ORDER)
    modality_rank = {"A": 0, "V": 1, "AV": 2}.get(row.modality, 3)
    return (family_rank, row.family, system_rank, modality_rank, base, row.dropped or "", method_rank(row.method),
            row.seed if row.seed is not None else -1)


def share_speakers(rows: list[SystemRow]) -> None:
    """Score files without speaker labels (e.g. E2E decodes without ``utt2spk``) take them from
    the other systems' files: the utterance ids are the cut ids, the same for every system."""
    known: dict[str, str] = {}
    for r in rows:
        for score in r.scores.values():
            known.update(score.speakers)
    for r in rows:
        for score in r.scores.values():
            utts = {u for c in score.counts.values() for u in c.utts}
            missing = utts - set(score.speakers)
            score.speakers.update({u: known[u] for u in missing if u in known})


def collect_rows(exp: PathLike, split: str = "test", lexicon_path: Optional[PathLike] = None) -> list[SystemRow]:
    """All leaderboard rows under ``exp`` for the test sets derived from ``split``, in table order.

    Raises AvsrInputError when ``exp`` holds no score file at all."""
    exp = Path(exp)
    if not exp.is_dir():
        raise AvsrInputError(exp, "experiment directory does not exist")
    lexicon = None
    if lexicon_path is not None and Path(lexicon_path).is_file():
        from avsr.lang.lexicon import read_lexicon

        lexicon = read_lexicon(lexicon_path)
    e2e = collect_e2e(exp, split, lexicon)
    if e2e and lexicon is None:
        log.warning("%s: no lexicon, E2E rows get no PER", lexicon_path)
    rows = collect_hybrid(exp, split) + e2e
    share_speakers(rows)
    if not rows:
        raise AvsrInputError(exp, f"no score files for set {split!r}: expected */score_{split}*/summary.json "
                             f"(stages 7, 9) or */decode_epoch*_avg*/{split}*/*/score.json (stages 11, 13)")
    return sorted(rows, key=row_sort_key)
