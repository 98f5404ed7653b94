"""Stages 6-9 through their CLIs on toy cut sets written in the stage-3 layout: GMM training
and alignment, HCLG, GMM decoding, hybrid training, posterior averaging and scoring, with
the score files the leaderboard reads; re-running a stage is a no-op."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from avsr.corpora.toy.hmm_corpus import make_toy_corpus, noisy_copy, write_toy_cuts, write_toy_lang
from avsr.corpora.grid.grammar import grid_slots

from tests.conftest import run_step_in_process

ROOT = Path(__file__).resolve().parents[1]


_run = run_step_in_process


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    write_toy_lang(root / "data" / "lang")
    train = make_toy_corpus(40, seed=0, audio_noise=1.2)
    dev = make_toy_corpus(8, seed=3, prefix="d", audio_noise=1.2)
    test = make_toy_corpus(8, seed=4, prefix="t", audio_noise=1.2)
    fd = root / "data" / "fbank"
    write_toy_cuts(train, fd, "train")
    write_toy_cuts(train, fd, "train_multi")
    write_toy_cuts(dev, fd, "dev")
    write_toy_cuts(test, fd, "test")
    noisy, clean = noisy_copy(test, "_babble_snr0", noise=3.0, seed=1)
    write_toy_cuts(noisy, fd, "test_babble_snr0", clean_ids=clean)
    conf = root / "conf"
    conf.mkdir()
    gmm = yaml.safe_load((ROOT / "conf" / "gmm.yaml").read_text())
    gmm["mono"].update(num_iters=8, total_gauss=150, max_iter_inc=6, realign_iters=[1, 2, 3, 4, 6])
    gmm["tri"].update(num_leaves=100, total_gauss=250, num_iters=4, max_iter_inc=3, realign_iters=[2], min_leaf_count=20)
    (conf / "gmm.yaml").write_text(yaml.safe_dump(gmm))
    common = yaml.safe_load((ROOT / "conf" / "hybrid_common.yaml").read_text())
    common["model"].update(audio_hidden=[64, 32], video_hidden=[64, 32], fusion_dim=16)
    common["train"].update(epochs=3, lr=0.002)
    common["eval_sets"] = ["dev", "test", "test_babble_snr0"]
    (conf / "hybrid_common.yaml").write_text(yaml.safe_dump(common))
    for v in ("audio", "video", "posterior_average"):
        (conf / f"hybrid_{v}.yaml").write_text((ROOT / "conf" / f"hybrid_{v}.yaml").read_text())
    from avsr.lang.lm import make_lm

    make_lm(root / "data" / "lm" / "grid", root / "data" / "lang", kind="grammar", slots=grid_slots())
    return root


def test_stages_6_to_9_on_toy_cuts(recipe):
    s = str(ROOT / "steps")
    common = ["--feature-dir", "data/fbank", "--corpus", "toy"]
    out = _run(f"{s}/train_gmm.py", "--kind", "mono", "--lang", "data/lang", "--conf", "conf/gmm.yaml", "--out", "exp/mono", *common,
               "--align-sets", "train,dev,test", cwd=recipe)
    assert "trained" in out
    _run(f"{s}/train_gmm.py", "--kind", "tri", "--mono-dir", "exp/mono", "--lang", "data/lang", "--conf", "conf/gmm.yaml",
         "--out", "exp/tri", *common, "--align-sets", "train,dev,test", cwd=recipe)
    prov_before = (recipe / "exp/tri/provenance.json").read_text()
    again = _run(f"{s}/train_gmm.py", "--kind", "tri", "--mono-dir", "exp/mono", "--lang", "data/lang", "--conf", "conf/gmm.yaml",
                 "--out", "exp/tri", *common, "--align-sets", "train,dev,test", cwd=recipe)
    assert "up to date (skipped)" in again
    assert (recipe / "exp/tri/provenance.json").read_text() == prov_before  # nothing was trained
    _run(f"{s}/make_hclg.py", "--lang", "data/lang", "--lm", "data/lm/grid", "--model", "exp/tri", "--out", "exp/tri/graph_grid",
         "--phone-out", "exp/tri/graph_phone_bg", *common, cwd=recipe)
    _run(f"{s}/decode_gmm.py", "--model", "exp/tri", "--graph", "exp/tri/graph_grid", "--lexicon", "data/lang/lexicon.txt",
         "--sets", "test", "--conf", "conf/gmm.yaml", *common, cwd=recipe)
    tri_test = json.loads((recipe / "exp/tri/score_test/summary.json").read_text())
    assert tri_test["wer"] < 30.0 and "per_word_decode" in tri_test  # chance on GRID: > 80 %
    assert tri_test["search_failures"] == 0 and tri_test["frame_targets"]["source"] == "tri"
    # provenance is recorded when a system is trained, and a skipped re-run leaves it alone
    prov = json.loads((recipe / "exp/tri/provenance.json").read_text())
    assert prov["commit"] and "train_gmm.py" in prov["command"] and len(prov["config_sha256"]) == 64
    assert (recipe / "exp/tri/final.json").is_file() and not (recipe / "exp/tri/final.pkl").exists()
    for v in ("audio", "video"):
        _run(f"{s}/train_hybrid.py", "--conf", f"conf/hybrid_{v}.yaml", "--ali-dir", "exp/tri", "--exp", "exp", "--out", f"exp/hybrid_{v}",
             "--device", "cpu", *common, cwd=recipe)
    train_info = json.loads((recipe / "exp/hybrid_audio/train.json").read_text())
    assert train_info["architecture"].startswith("[360,64,32,")
    out = _run(f"{s}/decode_hybrid.py", "--conf", "conf/hybrid_audio.yaml", "--model", "exp/hybrid_audio", "--exp", "exp",
               "--graph", "exp/tri/graph_grid", "--lexicon", "data/lang/lexicon.txt", "--device", "cpu", "--sets", "test,test_babble_snr0",
               "--phone-graph", "exp/tri/graph_phone_bg",
               *common, cwd=recipe)
    assert "exp/hybrid_audio test_babble_snr0: frame PER" in out and "search failures 0" in out
    audio_test = json.loads((recipe / "exp/hybrid_audio/score_test/summary.json").read_text())
    assert audio_test["wer"] < 50.0 and audio_test["frame_per"] < 60.0  # chance: WER > 80 %, frame PER > 95 %
    assert json.loads((recipe / "exp/hybrid_audio/decode.json").read_text())["acoustic_scale"] > 0
    # PER from phone-level decoding (phone-bigram graph, no word constraint) is worse than from words
    assert audio_test["per_word_decode"] <= audio_test["per_phone_decode"] < 60.0 and "per" not in audio_test
    assert json.loads((recipe / "exp/hybrid_audio/provenance.json").read_text())["config_sha256"]


def test_posterior_average_of_trained_members_and_missing_member_error(recipe):
    s = str(ROOT / "steps")
    conf = recipe / "conf" / "hybrid_av_average.yaml"
    conf.write_text("inherit: hybrid_common.yaml\nmembers: [hybrid_audio, hybrid_video]\nweights: [0.5, 0.5]\n")
    _run(f"{s}/decode_hybrid.py", "--conf", str(conf), "--model", "exp/hybrid_av_average", "--exp", "exp", "--graph", "exp/tri/graph_grid",
         "--lexicon", "data/lang/lexicon.txt", "--device", "cpu", "--feature-dir", "data/fbank", "--corpus", "toy",
         "--sets", "test,test_babble_snr0", cwd=recipe)
    summaries = {sn: json.loads((recipe / f"exp/hybrid_av_average/score_{sn}/summary.json").read_text()) for sn in ("test", "test_babble_snr0")}
    for sn, r in summaries.items():
        assert 0.0 <= r["frame_per"] <= 100.0 and r["frame_per_ci95"][0] <= r["frame_per"] <= r["frame_per_ci95"][1]
        assert all("frame_err" in u and "word_err" in u and "word_phone_err" in u for u in r["per_utt"].values())
    assert summaries["test"]["wer"] < 75.0  # an audio net averaged with a weak video-only net; chance > 80 %
    assert summaries["test"]["members"] == ["exp/hybrid_audio", "exp/hybrid_video"]
    # the noisy copy is scored against its clean utterance's alignment
    assert summaries["test_babble_snr0"]["frames"] == summaries["test"]["frames"]
    bad = recipe / "conf" / "hybrid_bad_average.yaml"
    bad.write_text("inherit: hybrid_common.yaml\nmembers: [hybrid_nothing]\n")
    proc = subprocess.run([sys.executable, f"{s}/decode_hybrid.py", "--conf", str(bad), "--model", "exp/x", "--exp", "exp",
                           "--feature-dir", "data/fbank", "--corpus", "toy"], cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("error: exp/hybrid_nothing/final.pt: model does not exist")


def test_report_tables_from_score_files(recipe):
    from avsr.hybrid.report import make_report

    text = make_report(recipe / "exp", "test")
    assert "| tri | " in text and "| hybrid_audio | " in text
    assert "[360,64,32," in text  # architecture in the paper's notation
    assert "hybrid_audio < tri (word) | clean |" in text
