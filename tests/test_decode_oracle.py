"""Oracle score matrices built from known phone sequences decode to exactly their words
(0% WER) through LG, HLG and HCLG built with the GRID grammar and a trigram, via the CLIs."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avsr.corpora.grid.grammar import sample_sentence
from avsr.decode.archive import read_score_archive, write_score_archive
from avsr.decode.decoder import DecodeOptions, DecodingGraph, decode_best, decode_lattice, decode_nbest
from avsr.decode.oracle import oracle_ctc_matrix, oracle_frame_matrix, oracle_pdf_sequence
from avsr.corpora.grid.espeak_lexicon import grid_espeak_lexicon
from avsr.lang.lm import make_lm
from avsr.lang.prepare import prepare_lang
from avsr.lang.symbols import read_symbol_table
from avsr.utils.errors import AvsrInputError
from avsr.wfst.hmm_h import MonophoneHBuilder
from avsr.wfst.make_graph import make_graph
from avsr.corpora.grid.grammar import grid_slots

REPO = Path(__file__).resolve().parents[1]
rng = random.Random(7)
SENTENCES = {f"utt{k}": sample_sentence(rng) for k in range(6)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    lexicon = grid_espeak_lexicon()
    prepare_lang(lexicon, root / "lang_espeak")
    text = root / "text.txt"
    text_rng = random.Random(1)
    text.write_text("".join(" ".join(sample_sentence(text_rng)) + "\n" for _ in range(400)))
    make_lm(root / "lm_grid", root / "lang_espeak", kind="grammar", slots=grid_slots())
    make_lm(root / "lm_tg", root / "lang_espeak", kind="ngram", text=text, order=3)
    return root, lexicon


def phone_ids(root: Path, lexicon, words: list[str], with_sil: bool = False) -> list[int]:
    phones = read_symbol_table(root / "lang_espeak" / "phones.txt")
    out = [phones["SIL"]] if with_sil else []
    for w in words:
        out += [phones[p] for p in lexicon.prons(w)[0]]
    return out + ([phones["SIL"]] if with_sil else [])


def oracle_matrix(kind: str, root: Path, lexicon, graph: DecodingGraph, words: list[str], seed: int) -> np.ndarray:
    ids = phone_ids(root, lexicon, words, with_sil=seed % 2 == 1)
    if kind == "lg":
        return oracle_frame_matrix([i for i in ids], graph.num_columns)
    if kind == "hlg":
        return oracle_ctc_matrix(ids, graph.num_columns, frames_per_token=2 + seed % 3, rng=np.random.default_rng(seed))
    builder = MonophoneHBuilder.from_topology((root / "lang_espeak" / "topo").read_text())
    return oracle_frame_matrix(oracle_pdf_sequence(builder.transition_model, ids, frames_per_state=1 + seed % 2), graph.num_columns)


@pytest.mark.parametrize("kind", ["lg", "hlg", "hclg"])
@pytest.mark.parametrize("lm", ["lm_grid", "lm_tg"])
def test_oracle_decodes_exactly(setup, kind, lm, tmp_path):
    root, lexicon = setup
    graph_dir = tmp_path / f"{kind}_{lm}"
    info = make_graph(kind, root / "lang_espeak", root / lm, graph_dir)
    assert info["sizes"]["graph"]["states"] > 0 and info["sizes"]["graph"]["arcs"] > 0
    graph = DecodingGraph.load(graph_dir)
    matrices = {utt: oracle_matrix(kind, root, lexicon, graph, words, k) for k, (utt, words) in enumerate(SENTENCES.items())}
    write_score_archive(tmp_path / "scores.npz", matrices)
    hyp = tmp_path / "hyp.txt"
    ref = tmp_path / "ref.txt"
    ref.write_text("".join(f"{u} {' '.join(w)}\n" for u, w in SENTENCES.items()))
    run = [sys.executable, str(REPO / "steps/decode_graph.py"), "--graph", str(graph_dir), "--scores", str(tmp_path / "scores.npz"), "--out", str(hyp)]
    subprocess.run(run, check=True, capture_output=True, text=True)
    score = subprocess.run([sys.executable, str(REPO / "steps/score.py"), "--ref", str(ref), "--hyp", str(hyp), "--out-dir", str(tmp_path)],
                           check=True, capture_output=True, text=True)
    assert score.stdout.strip() == f"%WER 0.00 [ 0 / {6 * len(SENTENCES)}, 0 ins, 0 del, 0 sub ]"
    assert (tmp_path / "per_utt").is_file() and (tmp_path / "hyp.decode.json").is_file()


def test_nbest_and_options(setup, tmp_path):
    root, lexicon = setup
    make_graph("hlg", root / "lang_espeak", root / "lm_grid", tmp_path / "g")
    graph = DecodingGraph.load(tmp_path / "g")
    words = SENTENCES["utt0"]
    m = oracle_ctc_matrix(phone_ids(root, lexicon, words), graph.num_columns, floor=-3.0)
    nbest = decode_nbest(graph, m, DecodeOptions(nbest=4, nbest_columns=4))
    assert nbest[0].words == words
    assert 2 <= len(nbest) <= 4 and len({tuple(h.words) for h in nbest}) == len(nbest)
    assert all(a.cost <= b.cost for a, b in zip(nbest, nbest[1:]))
    # Acoustic scale: the graph cost is unchanged, the total moves with the scale.
    h1 = decode_best(graph, m, DecodeOptions(acoustic_scale=1.0))
    h2 = decode_best(graph, m, DecodeOptions(acoustic_scale=0.5))
    assert h1.words == h2.words == words
    assert h2.graph_cost == pytest.approx(h1.graph_cost, abs=1e-3)
    assert h2.acoustic_cost == pytest.approx(h1.acoustic_cost, rel=1e-4)
    # A tiny beam still returns something or None, never crashes.
    decode_best(graph, m, DecodeOptions(beam=0.5, max_active=3, min_active=1))


def test_bad_score_matrix_and_archive(setup, tmp_path):
    root, _ = setup
    make_graph("hlg", root / "lang_espeak", root / "lm_grid", tmp_path / "g")
    graph = DecodingGraph.load(tmp_path / "g")
    with pytest.raises(AvsrInputError, match="needs \\[T, "):
        decode_best(graph, np.zeros((5, graph.num_columns + 1), dtype=np.float32), utt="x")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(AvsrInputError, match="bad.npz"):
        read_score_archive(bad)
    write_score_archive(tmp_path / "ok.npz", {"b": np.ones((2, 3)), "a": np.zeros((4, 3))})
    back = read_score_archive(tmp_path / "ok.npz")
    assert list(back) == ["a", "b"] and back["a"].shape == (4, 3) and back["a"].dtype == np.float32


def test_lattice_decoder_on_hclg_gives_words_and_alignment(setup, tmp_path):
    root, lexicon = setup
    make_graph("hclg", root / "lang_espeak", root / "lm_tg", tmp_path / "g")
    graph = DecodingGraph.load(tmp_path / "g")
    builder = MonophoneHBuilder.from_topology((root / "lang_espeak" / "topo").read_text())
    words = SENTENCES["utt1"]
    pdfs = oracle_pdf_sequence(builder.transition_model, phone_ids(root, lexicon, words), frames_per_state=2)
    hyp, alignment = decode_lattice(graph, oracle_frame_matrix(pdfs, graph.num_columns), builder.transition_model)
    assert hyp.words == words
    assert len(alignment) == len(pdfs)
    assert [builder.transition_model.transition_id_to_pdf(t) for t in alignment] == pdfs
    assert hyp.cost == pytest.approx(decode_best(graph, oracle_frame_matrix(pdfs, graph.num_columns)).cost, abs=1e-2)


def test_hlg_over_bpe_tokens(tmp_path):
    """HLG over sentencepiece units (no silence phone): oracle piece posteriors -> exact words."""
    import sentencepiece as spm

    from avsr.corpora.grid.grammar import grid_vocabulary
    from avsr.lang.lexicon import bpe_lexicon
    from avsr.lang.prepare import LangOptions

    text_rng = random.Random(2)
    text = tmp_path / "text.txt"
    text.write_text("".join(" ".join(sample_sentence(text_rng)) + "\n" for _ in range(300)))
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(tmp_path / "bpe"), vocab_size=40, model_type="bpe",
                                   character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "bpe.model"))
    model = tmp_path / "exp/ctc_bpe"
    model.mkdir(parents=True)
    # The CTC model's outputs: blank at 0, then the sentencepiece ids shifted by one.
    (model / "tokens.txt").write_text("<blk> 0\n" + "".join(f"{sp.id_to_piece(i)} {i + 1}\n" for i in range(sp.get_piece_size())))
    lexicon = bpe_lexicon(grid_vocabulary(), tmp_path / "bpe.model")
    lang = prepare_lang(lexicon, tmp_path / "lang_bpe", LangOptions(sil_phone="", unk_phone="<unk>"), phone_table=model / "tokens.txt")
    make_lm(tmp_path / "lm_grid", lang, kind="grammar", slots=grid_slots())
    make_graph("hlg", lang, tmp_path / "lm_grid", tmp_path / "g", model)
    graph = DecodingGraph.load(tmp_path / "g")
    assert graph.num_columns == sp.get_piece_size() + 1
    for words in list(SENTENCES.values())[:3]:
        piece_ids = [i + 1 for w in words for i in sp.encode(w)]
        hyp = decode_best(graph, oracle_ctc_matrix(piece_ids, graph.num_columns))
        assert hyp.words == words
