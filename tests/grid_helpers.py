"""Shared helpers for the GRID decoding tests: stand-ins for trained exp dirs, and folders of
real GRID clips copied (and renamed) from the fixtures."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from avsr.corpora.grid.grammar import grid_slots
from tests.conftest import run_step_in_process

ROOT = Path(__file__).resolve().parents[1]
GRID_S1 = next((p for p in (ROOT.parent / "shared" / "fixtures" / "grid_s1", Path("/work/shared/fixtures/grid_s1")) if p.is_dir()),
               ROOT.parent / "shared" / "fixtures" / "grid_s1")


def copy_s1_clips(dst: Path, utts: list[str], speaker: str = "s1", with_align: bool = True) -> Path:
    """A GRID-layout folder of some fixture s1 clips, under another speaker name if asked."""
    for utt in utts:
        (dst / speaker).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GRID_S1 / "s1" / f"{utt}.mpg", dst / speaker / f"{utt}.mpg")
        if with_align:
            (dst / "alignments" / speaker).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(GRID_S1 / "alignments" / "s1" / f"{utt}.align", dst / "alignments" / speaker / f"{utt}.align")
    return dst


def toy_gmm_and_hybrid(models: Path, hybrids: tuple[str, ...] = ("audio",)) -> None:
    """exp/{mono,tri} (+ graph_grid_espeak over the espeak GRID lexicon) and exp/hybrid_<v> for
    each of ``hybrids``, trained on toy cuts with the real stage-3 dims (24 MFCC, 64 ROI-DCT):
    stand-ins for a trained run's models (relative --ali-dir, as the top-level run stores it)."""
    from avsr.corpora.toy.hmm_corpus import make_toy_corpus, write_toy_cuts, write_toy_lang
    from avsr.lang.lm import make_lm

    write_toy_lang(models / "data" / "lang_espeak")
    make_lm(models / "data" / "lm" / "grid", models / "data" / "lang_espeak", kind="grammar", slots=grid_slots())
    fd = models / "data" / "fbank"
    for name, n, seed in (("train", 30, 0), ("dev", 6, 3), ("test", 6, 4)):
        toy = make_toy_corpus(n, seed=seed, prefix=name[0], video_dim=64, audio_noise=1.2)
        for set_name in (name, "train_multi") if name == "train" else (name,):
            write_toy_cuts(toy, fd, set_name)
    conf = models / "conf"
    conf.mkdir()
    gmm = yaml.safe_load((ROOT / "conf" / "gmm.yaml").read_text())
    gmm["mono"].update(num_iters=6, total_gauss=120, max_iter_inc=4, realign_iters=[1, 2, 4])
    gmm["tri"].update(num_leaves=80, total_gauss=200, num_iters=3, max_iter_inc=2, realign_iters=[2], min_leaf_count=20)
    (conf / "gmm.yaml").write_text(yaml.safe_dump(gmm))
    hybrid = yaml.safe_load((ROOT / "conf" / "hybrid_common.yaml").read_text())
    hybrid["model"].update(audio_hidden=[32], video_hidden=[32], concat_hidden=[32], fusion_dim=8)
    hybrid["train"].update(epochs=2, lr=0.002)
    (conf / "hybrid_common.yaml").write_text(yaml.safe_dump(hybrid))
    s, common = ROOT / "steps", ["--feature-dir", "data/fbank", "--corpus", "toy"]
    run_step_in_process(s / "train_gmm.py", "--kind", "mono", "--lang", "data/lang_espeak", "--conf", "conf/gmm.yaml",
                        "--out", "exp/mono", *common, cwd=models)
    run_step_in_process(s / "train_gmm.py", "--kind", "tri", "--mono-dir", "exp/mono", "--lang", "data/lang_espeak",
                        "--conf", "conf/gmm.yaml", "--out", "exp/tri", *common, cwd=models)
    for gmm_dir in ("mono", "tri"):
        run_step_in_process(s / "make_hclg.py", "--lang", "data/lang_espeak", "--lm", "data/lm/grid", "--model", f"exp/{gmm_dir}",
                            "--out", f"exp/{gmm_dir}/graph_grid_espeak", *common, cwd=models)
    for variant in hybrids:
        (conf / f"hybrid_{variant}.yaml").write_text((ROOT / "conf" / f"hybrid_{variant}.yaml").read_text())
        run_step_in_process(s / "train_hybrid.py", "--conf", f"conf/hybrid_{variant}.yaml", "--ali-dir", "exp/tri", "--exp", "exp",
                            "--out", f"exp/hybrid_{variant}", "--device", "cpu", *common, cwd=models)


def fake_posterior_average(exp: Path, members: list[str]) -> None:
    """A scored posterior-average dir as stage 9 leaves it (its summaries name the members)."""
    score = exp / "hybrid_posterior_average" / "score_dev"
    score.mkdir(parents=True)
    (score / "summary.json").write_text(json.dumps({"system": "hybrid_posterior_average", "members": members}))
