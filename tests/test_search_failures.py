"""A decoder search that reaches no final state is never silent: the decoder returns the best
partial hypothesis flagged ``partial`` (Kaldi's --allow-partial), the archive decoder and the
GMM/hybrid scorer count it per set, and RESULTS.md shows the count as a superscript with a note.
Failures are forced with utterances shorter than the graph's shortest path (12 HMM states)."""
from __future__ import annotations

import json

import numpy as np

from avsr.decode.archive import write_score_archive
from avsr.decode.decoder import DecodeOptions, DecodingGraph, decode_best, decode_lattice
from avsr.decode.run import decode_archive
from avsr.hybrid.evaluate import score_set
from avsr.lang.lexicon import read_lexicon
from avsr.utils.io import write_json_atomic
from avsr.wfst.compose import build_hclg
from avsr.wfst.fstutil import write_fst_atomic
from avsr.wfst.hmm_h import MonophoneHBuilder

from tests.test_hclg_weights import WORDS, toy_lang  # noqa: F401  (fixture)


def _graph_dir(toy_lang, tmp_path):
    lang, phones, LG, disambig = toy_lang
    builder = MonophoneHBuilder.from_topology((lang / "topo").read_text())
    built = build_hclg(LG, disambig, builder)
    out = tmp_path / "graph"
    out.mkdir()
    write_fst_atomic(built.fst, out / "HCLG.fst")
    (out / "words.txt").write_text((lang / "words.txt").read_text())
    (out / "columns.int").write_text("".join(f"{c}\n" for c in built.column_map))
    write_json_atomic(out / "build.json", {"kind": "hclg", "num_columns": int(built.num_columns)})
    pdfs = {}  # phone -> its 3 states' pdfs, in order
    tm = builder.transition_model
    for tid in range(1, tm.num_transition_ids + 1):
        seq = pdfs.setdefault(int(tm.transition_id_to_phone(tid)), [])
        if int(tm.transition_id_to_pdf(tid)) not in seq:
            seq.append(int(tm.transition_id_to_pdf(tid)))
    return out, builder, [p for ph in ("p", "q", "q", "p") for p in pdfs[phones[ph]]]


def _matrix(num_columns: int, pdf_sequence) -> np.ndarray:
    m = np.full((len(pdf_sequence), num_columns), -20.0, np.float32)
    m[np.arange(len(pdf_sequence)), pdf_sequence] = 0.0
    return m


def test_forced_failure_gives_a_flagged_partial_hypothesis(toy_lang, tmp_path):
    graph_dir, builder, states = _graph_dir(toy_lang, tmp_path)
    graph = DecodingGraph.load(graph_dir)
    full = decode_best(graph, _matrix(graph.num_columns, [s for s in states for _ in range(2)]))
    assert full.words == WORDS and not full.partial
    short = _matrix(graph.num_columns, states[:7])  # 7 frames: halfway through, no final state reachable
    partial = decode_best(graph, short)
    assert partial is not None and partial.partial  # the best path so far: the words it has passed
    assert partial.words and partial.words == WORDS[:len(partial.words)]
    assert decode_best(graph, short, DecodeOptions(allow_partial=False)) is None
    hyp, alignment = decode_lattice(graph, short, builder.transition_model)
    assert hyp.partial and len(alignment) == 7
    # the archive decoder writes the partial hypothesis and counts the failure
    write_score_archive(tmp_path / "scores.npz", {"u_ok": _matrix(graph.num_columns, states), "u_short": short})
    hyps = decode_archive(graph_dir, tmp_path / "scores.npz", tmp_path / "hyp.txt")
    info = json.loads((tmp_path / "hyp.decode.json").read_text())
    assert info["search_failures"] == 1 and info["failed"] == ["u_short"] and hyps["u_short"] == partial.words


def test_failures_are_counted_per_set_and_shown_in_results(toy_lang, tmp_path):
    from avsr.leaderboard import LeaderboardOptions, build_leaderboard

    graph_dir, _, states = _graph_dir(toy_lang, tmp_path)
    graph = DecodingGraph.load(graph_dir)
    lang = toy_lang[0]
    scores = {f"s{k % 2}_u{k}": _matrix(graph.num_columns, states if k < 4 else states[:5]) for k in range(6)}
    refs = {u: WORDS for u in scores}
    spk = {u: u.split("_")[0] for u in scores}
    exp = tmp_path / "exp"
    summary = score_set("tri", "test", scores, None, exp / "tri" / "score_test", pseudo_ll=scores, graph=graph, refs=refs,
                        lexicon=read_lexicon(lang / "lexicon.txt"), acoustic_scale=1.0, speakers=spk)
    assert summary["search_failures"] == 2 and summary["search_failed_utts"] == ["s0_u4", "s1_u5"]
    on_disk = json.loads((exp / "tri" / "score_test" / "summary.json").read_text())
    assert on_disk["per_utt"]["s0_u4"]["search_failed"] and "search_failed" not in on_disk["per_utt"]["s0_u0"]
    assert on_disk["per_utt"]["s0_u4"]["spk"] == "s0"
    md = build_leaderboard(LeaderboardOptions(exp=exp, out=tmp_path / "R.md", lexicon=None, date="d", repo_dir=tmp_path,
                                              bootstrap_samples=50)).markdown
    assert "<sup>2</sup> [" in md.split("## WER")[1].split("## PER")[0]
    assert "N utterances of that cell whose decoder search reached no final state (2 in 1 cells)" in md
