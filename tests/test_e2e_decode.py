"""End to end through the CLIs on the toy corpus: train (CTC+attention and transducer),
build a BPE HLG with the lang toolchain, decode with every method, check the score files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lhotse import CutSet

from avsr.corpora.grid.grammar import grid_vocabulary, is_grid_sentence
from avsr.e2e.tokens import train_bpe
from avsr.score.wer import read_text
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts
from e2e_helpers import PYTHON, REPO, TINY_CONFIG, TINY_TRANSDUCER, run, train_cmd, write_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    paths = make_synthetic_cuts(data, {"train": 40, "dev": 6, "test": 6, "test_babble_snr0": 6})
    # the shared BPE model covers every GRID word (what steps/train_bpe.py --grid-words does in run.sh)
    texts = [c.supervisions[0].text for c in CutSet.from_file(paths["train"])]
    train_bpe(texts, data / "lang_bpe" / "bpe.model", 64, extra_words=grid_vocabulary())
    exps = {}
    for name, cfg in (("ctc", TINY_CONFIG), ("rnnt", TINY_TRANSDUCER)):
        conf = write_config(root / f"{name}.yaml", dict(cfg, train=dict(cfg["train"], epochs=2)))
        exps[name] = root / name
        done = run(train_cmd(conf, data, exps[name], "--bpe-model", str(data / "lang_bpe" / "bpe.model")))
        assert done.returncode == 0, done.stderr[-2000:]
    exps["data"] = data
    return exps


def test_shared_bpe_model_and_tokens_table(trained: dict[str, Path]) -> None:
    bpe = trained["data"] / "lang_bpe" / "bpe.model"
    assert bpe.is_file()
    for name in ("ctc", "rnnt"):
        assert (trained[name] / "tokens" / "bpe.model").read_bytes() == bpe.read_bytes()
        lines = (trained[name] / "tokens.txt").read_text().splitlines()
        assert lines[:2] == ["<blk> 0", "<sos/eos> 1"]


def test_decode_all_methods_and_hlg(trained: dict[str, Path], tmp_path: Path) -> None:
    data, exp = trained["data"], trained["ctc"]
    lang, lm, graph = tmp_path / "lang_bpe", tmp_path / "lm_grid", tmp_path / "graph"
    steps = REPO / "steps"
    for cmd in (
        [PYTHON, str(steps / "prepare_lang.py"), "--source", "bpe", "--lexicon", str(data / "lang_bpe" / "bpe.model"),
         "--sil-phone", "", "--unk-phone", "<unk>", "--phone-table", str(exp / "tokens.txt"), str(lang)],
        [PYTHON, str(steps / "make_lm.py"), "--kind", "grid", "--lang", str(lang), str(lm)],
        [PYTHON, str(steps / "make_graph.py"), "--lang", str(lang), "--lm", str(lm), "--kind", "hlg", "--model",
         str(exp), "--out", str(graph)],
    ):
        r = run(cmd)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    methods = ["ctc_greedy", "ctc_prefix_beam", "attention_beam", "joint_ctc_attention", "hlg_1best",
               "hlg_nbest_attention"]
    r = run([PYTHON, str(steps / "decode_e2e.py"), "--exp-dir", str(exp), "--data", str(data), "--sets", "test",
             "test_babble_snr0", "--methods", *methods, "--hlg-dir", str(graph), "--avg", "2", "--device", "cpu",
             "--beam", "4", "--num-threads", "1"])
    assert r.returncode == 0, r.stderr[-3000:]
    for s in ("test", "test_babble_snr0"):
        for m in methods:
            m = f"{m}_graph" if m.startswith("hlg") else m  # the graph dir's name is part of the label
            out = exp / "decode_epoch2_avg2" / s / m
            rec = json.loads((out / "score.json").read_text())
            assert rec["method"] == m and rec["test_set"] == s and rec["ref_words"] == 36
            assert rec["rtf"] > 0 and 0 <= rec["wer"]
            assert (out / "wer").read_text().startswith("%WER ")
            hyps = read_text(out / "hyp.txt")
            assert len(hyps) == 6
            if m.startswith("hlg"):  # the grammar graph only outputs GRID sentences
                assert all(is_grid_sentence(h) for h in hyps.values()), hyps
    rec = json.loads((exp / "decode_epoch2_avg2" / "test_babble_snr0" / "ctc_greedy" / "score.json").read_text())
    assert (rec["noise"], rec["snr"], rec["modality"]) == ("babble", 0.0, "AV")


def test_transducer_decode_with_missing_stream(trained: dict[str, Path]) -> None:
    exp = trained["rnnt"]
    r = run([PYTHON, str(REPO / "steps" / "decode_e2e.py"), "--exp-dir", str(exp), "--data", str(trained["data"]),
             "--drop-video-sets", "test", "--drop-methods", "greedy", "beam", "modified_beam", "ctc_greedy",
             "--device", "cpu", "--num-threads", "1"])
    assert r.returncode == 0, r.stderr[-3000:]
    for m in ("greedy", "beam", "modified_beam", "ctc_greedy"):
        rec = json.loads((exp / "decode_epoch2_avg1" / "test_no-video" / m / "score.json").read_text())
        assert rec["modality"].startswith("A(") and rec["num_utts"] == 6
    bad = run([PYTHON, str(REPO / "steps" / "decode_e2e.py"), "--exp-dir", str(exp), "--data", str(trained["data"]),
               "--methods", "attention_beam", "--device", "cpu"])
    assert bad.returncode == 1 and "unknown decoding method" in bad.stderr
