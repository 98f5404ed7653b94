"""The stage framework and the default recipe on the tiny preset, end to end.

The two tiny runs (session fixture ``tiny_clones``) live in this one file so that ``pytest -n 2
--dist loadfile`` (test.sh) runs them once, on one worker. Reproducibility: Reproducible to the digit: ``./run.sh --preset tiny`` in two separate copies of the working tree
(uncommitted work included; data/, exp/, .venv/ left out, the venv shared through a symlink), each
in its own process from empty data and exp dirs, must give byte-identical numeric rows of
RESULTS.md and byte-identical plots; and every system must reach the leaderboard.

The two runs are the session fixture ``tiny_clones`` (tests/conftest.py): the suite's only
end-to-end runs of the recipe (test_recipe.py reads the first clone's stage outputs). They
replaced test_recipe_full.py, which re-ran stages 6-14 twice on one data dir in one session."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet, validate

from avsr.corpora.grid.grammar import grid_vocabulary
from tests.conftest import run_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_stages():
    proc = run_recipe("--help")
    assert proc.returncode == 0
    for n in range(15):
        assert f"\n  {n}  " in proc.stdout or f"\n {n}  " in proc.stdout


def test_unknown_option_is_an_error():
    proc = run_recipe("--stagee", "1")
    assert proc.returncode == 1 and "unknown option --stagee" in proc.stderr


@pytest.fixture(scope="module")
def tiny_run(tiny_recipe_data):
    """Stages 0-5 on the tiny preset in a private data dir (the session's shared run)."""
    return tiny_recipe_data


def test_tiny_recipe_outputs(tiny_run):
    data, _, _ = tiny_run
    stats = json.loads((data / "local" / "synthetic_grid" / "corpus_stats.json").read_text())
    speakers = {}
    for split in ("train", "dev", "test", "test_unseenaccent"):
        cuts = CutSet.from_file(data / "manifests" / f"synthetic_grid_cuts_{split}.jsonl.gz")
        validate(cuts, read_data=True)
        speakers[split] = {c.supervisions[0].speaker for c in cuts}
        assert len(cuts) > 0
        # the corpus report counts what the manifests hold (no clip lost between stages 0 and 1)
        assert stats["splits"][split]["utterances"] == len(cuts), split
        assert stats["splits"][split]["speakers"] == len(speakers[split]), split
        assert abs(stats["splits"][split]["hours"] - sum(c.duration for c in cuts) / 3600) < 1e-3, split
    assert not (speakers["train"] & speakers["dev"]) and not (speakers["train"] & speakers["test"])
    assert not (speakers["dev"] & speakers["test"])
    assert len(set().union(*speakers.values())) == sum(map(len, speakers.values()))  # test_unseenaccent too
    noisy = sorted(p.name for p in (data / "fbank").glob("synthetic_grid_cuts_test_*_snr*.jsonl.gz"))
    assert len([n for n in noisy if "matched" not in n]) == 10  # 2 noise types x 5 SNRs (+ matched-noise sets)
    roi = json.loads((data / "video" / "roi_stats.json").read_text())
    assert roi["num_clips"] > 0 and 0.0 <= roi["face_fraction"] <= 1.0
    # the espeak lexicon covers the whole grammar even though 20 training sentences do not
    lexicon_words = {line.split()[0] for line in (data / "lang_espeak" / "lexicon.txt").read_text().splitlines()}
    assert set(grid_vocabulary()) <= lexicon_words
    for lm in ("grid_espeak", "tg_espeak", "tg_cmudict", "tg_grapheme"):
        assert (data / "lm" / lm / "G.fst").is_file()


def test_tiny_recipe_unseen_accent_set(tiny_run):
    """Stages 0-3 make the cross-accent test set like test (clean only: no noisy copies)."""
    data, _, _ = tiny_run
    assert (data / "local" / "synthetic_grid" / "test_unseenaccent.jsonl").is_file()
    feats = CutSet.from_file(data / "fbank" / "synthetic_grid_cuts_test_unseenaccent.jsonl.gz")
    clean = CutSet.from_file(data / "manifests" / "synthetic_grid_cuts_test_unseenaccent.jsonl.gz")
    assert sorted(feats.ids) == sorted(clean.ids) and len(feats) == 10
    for cut in feats:  # audio features and the video arrays (mouth ROIs + DCT), as for test
        assert cut.has_features and {"mouth_roi", "roi_dct"} <= set(cut.custom or {}), cut.id
    assert (data / "video" / "roi_stats_test_unseenaccent.json").is_file()
    assert not list((data / "fbank").glob("synthetic_grid_cuts_test_unseenaccent_*"))
    info = json.loads((data / "local" / "synthetic_grid" / "speakers.json").read_text())
    accents = {split: {i["base_voice"] for i in info.values() if i["split"] == split} for split in ("train", "test", "test_unseenaccent")}
    assert accents["test"] <= accents["train"] and not accents["test_unseenaccent"] & accents["train"]


def test_rerun_skips_finished_stages(tiny_run):
    data, exp, first = tiny_run
    t0 = time.time()
    proc = run_recipe("--preset", "tiny", "--stop-stage", "5", "--data", str(data), "--exp", str(exp))
    assert proc.returncode == 0, proc.stderr[-2000:]
    markers = list((data / ".stages").glob("stage*.done"))
    assert len(markers) >= 5 and proc.stderr.count("already done, skipping") == len(markers)  # every finished stage
    assert " done in " not in proc.stderr  # and nothing ran
    assert time.time() - t0 < 30


def test_other_options_refuse_to_mix_outputs(tiny_run):
    data, exp, _ = tiny_run
    proc = run_recipe("--preset", "tiny", "--seed", "99", "--stop-stage", "0", "--data", str(data), "--exp", str(exp))
    assert proc.returncode == 1 and "stage 0 was run with" in proc.stderr


def _lagged_corr(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    if lag > 0:
        a, b = a[lag:], b[:-lag]
    elif lag < 0:
        a, b = a[:lag], b[-lag:]
    return float(np.corrcoef(a, b)[0, 1])


def test_audio_video_and_text_line_up_in_time(tiny_run):
    """Audio energy, lip movement and the word alignment must agree in time, not just in length."""
    data, _, _ = tiny_run
    cuts = CutSet.from_file(data / "fbank" / "synthetic_grid_cuts_train.jsonl.gz")
    for cut in list(cuts)[:4]:
        fbank = cut.load_features()
        lips = cut.load_mouth_roi().astype(np.float32)
        mfcc = cut.load_mfcc()
        assert abs(fbank.shape[0] * 0.01 - cut.duration) <= 0.02
        assert abs(mfcc.shape[0] - fbank.shape[0]) <= 1
        assert abs(lips.shape[0] * 0.04 - cut.duration) <= 0.04
        words = cut.supervisions[0].alignment["word"]
        assert [w.symbol for w in words] == cut.supervisions[0].text.split()
        n = min(lips.shape[0], fbank.shape[0] // 4)
        energy = fbank[: 4 * n].mean(axis=1).reshape(n, 4).mean(axis=1)  # at 25 fps
        # lip activity: distance of the mouth region from its rest shape in the leading silence
        h, w = lips.shape[1:]
        mouth = lips[:n, h // 4 : 3 * h // 4, w // 6 : 5 * w // 6]
        activity = np.abs(mouth - np.median(mouth[:5], axis=0)).mean(axis=(1, 2))
        t = (np.arange(n) + 0.5) * 0.04
        speech = np.zeros(n, dtype=bool)
        for word in words:
            speech |= (t >= word.start) & (t < word.end)
        assert energy[speech].mean() > energy[~speech].mean() + 3.0
        assert activity[speech].mean() > 1.5 * activity[~speech].mean()
        # the two streams are synchronous: best cross-correlation within 2 frames (80 ms) of zero lag
        corr = {lag: _lagged_corr(energy, activity, lag) for lag in range(-6, 7)}
        assert corr[0] > 0.3
        assert abs(max(corr, key=corr.get)) <= 2


def test_killed_feature_stage_reruns_cleanly(tiny_run, tmp_path):
    """kill -9 in the middle of stage 3, then re-run: every set completes and loads."""
    import shutil
    import signal
    import sys

    data, _, _ = tiny_run
    manifests = tmp_path / "manifests"
    shutil.copytree(data / "manifests", manifests)
    cmd = [
        sys.executable, str(ROOT / "steps/compute_features.py"), "--manifest-dir", str(manifests),
        "--corpus", "synthetic_grid", "--out-dir", str(tmp_path / "fbank"), "--video-dir", str(tmp_path / "video"),
        "--conf", str(ROOT / "conf/features.yaml"), "--nj", "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(8)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in (tmp_path / "fbank").glob("synthetic_grid_cuts_*.jsonl.gz")) if (tmp_path / "fbank").exists() else []
    assert len(done_before) < 25  # it really was interrupted
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    outputs = sorted((tmp_path / "fbank").glob("synthetic_grid_cuts_*.jsonl.gz"))
    assert len(outputs) == len(list(manifests.glob("synthetic_grid_cuts_*.jsonl.gz")))
    for path in outputs:
        for cut in CutSet.from_file(path).subset(first=2):
            assert cut.load_features().shape[1] == 80 and cut.load_mouth_roi().shape[1:] == (44, 44)


def test_new_words_set_for_the_swap_demo(tiny_run, tmp_path):
    """Unseen words, spoken by the unseen test speakers, with a lexicon from the training voices."""
    import sys

    from avsr.data.records import read_records

    data, _, _ = tiny_run
    out = tmp_path / "new_words"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local/make_new_words_set.py"), "--index-dir", str(data / "local" / "synthetic_grid"),
         "--media-dir", str(tmp_path / "media"), "--out-dir", str(out), "--words", "black", "gold", "--num-sentences", "2", "--nj", "1"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = read_records(out / "test.jsonl")
    test_speakers = {c.supervisions[0].speaker for c in CutSet.from_file(data / "manifests" / "synthetic_grid_cuts_test.jsonl.gz")}
    assert {r.speaker for r in records} == test_speakers and len(records) == 2 * len(test_speakers)
    assert {r.text.split()[1] for r in records} == {"black", "gold"}
    lexicon = (out / "lexicon_new.txt").read_text().splitlines()
    assert "black b l a k" in lexicon and any(line.startswith("gold ") for line in lexicon)
    assert any(line.startswith("bin ") for line in lexicon)  # the old words stay
    text = (out / "lm_text.txt").read_text()
    assert " black " in text and " blue " in text
    bad = subprocess.run(
        [sys.executable, str(ROOT / "local/make_new_words_set.py"), "--index-dir", str(data / "local" / "synthetic_grid"),
         "--media-dir", str(tmp_path / "m2"), "--out-dir", str(tmp_path / "o2"), "--words", "blue"],
        capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "already in the GRID vocabulary" in bad.stderr

SYSTEM_ROWS = ["mono", "tri", "hybrid_audio", "hybrid_video", "hybrid_concat", "hybrid_bilinear", "hybrid_factored",
               "hybrid_shared_factored", "hybrid_posterior_average", "ctc_att_a", "ctc_att_v", "ctc_att_av_concat",
               "ctc_att_av_bilinear", "transducer_a", "transducer_v", "transducer_av_concat", "transducer_av_bilinear"]


def numeric_rows(results: Path) -> list[str]:
    """Every table row and bullet of RESULTS.md that carries numbers, except those that name the
    run's paths, command or date (provenance rows and header lines in backticks)."""
    return [line for line in results.read_text().splitlines()
            if line.startswith(("|", "- ")) and re.search(r"\d", line) and "`" not in line and not line.startswith("- date")]


def test_two_clones_give_identical_numbers(tiny_clones):
    (a, _, _), (b, _, _) = tiny_clones
    rows_a, rows_b = numeric_rows(a / "exp" / "RESULTS.md"), numeric_rows(b / "exp" / "RESULTS.md")
    assert len(rows_a) > 40
    diff = [f"a: {x}\nb: {y}" for x, y in zip(rows_a, rows_b) if x != y]
    assert len(rows_a) == len(rows_b) and not diff, "\n".join(diff[:5])
    plots_a = sorted(p.name for p in (a / "exp" / "plots").glob("*.png"))
    assert plots_a and plots_a == sorted(p.name for p in (b / "exp" / "plots").glob("*.png"))
    for name in plots_a:
        assert (a / "exp" / "plots" / name).read_bytes() == (b / "exp" / "plots" / name).read_bytes(), name


def test_every_system_reaches_the_leaderboard(tiny_clones):
    clone, stderr, _ = tiny_clones[0]
    results = (clone / "exp" / "RESULTS.md").read_text()
    for system in SYSTEM_ROWS:
        assert re.search(rf"\| {system}[‡†]? \|", results), system
    assert re.search(r"\d+\.\d(<sup>\d+</sup>)? \[\d+\.\d, \d+\.\d\]", results), "no cell with a 95% interval"
    assert "speaker-cluster bootstrap over " in results and "## Claims" in results
    assert "Stage wall times" in stderr and "leaderboard" in stderr
    for png in ("wer_vs_snr.png", "fusion_frame_per.png"):
        assert (clone / "exp" / "plots" / png).stat().st_size > 10_000
    # provenance recorded at training time, for every trained system; no pickle anywhere
    for system in ("mono", "tri", "hybrid_audio", "ctc_att_a", "transducer_a", "hybrid_posterior_average"):
        assert (clone / "exp" / system / "provenance.json").is_file(), system
    assert not list((clone / "exp").glob("*/final.pkl"))


def test_extra_seeds_retrain_systems_next_to_the_main_run(tiny_run, tmp_path):
    """--extra-seeds: stage 8 (hybrid training, the cheapest stage with a model) again with seed
    2 in <exp>/seed_runs/seed2, on a copy of the tiny run's exp dir; the main run's stage is
    skipped, the seed's fusion nets start from that seed's own A / V nets, and each system shows
    up as <exp>/<system>_seed2 for the leaderboard. Bad seed lists are errors."""
    import shutil

    data, exp, _ = tiny_run
    exp2 = tmp_path / "exp"
    shutil.copytree(exp, exp2, symlinks=True)
    args = ("--preset", "tiny", "--data", str(data), "--exp", str(exp2), "--stage", "8", "--stop-stage", "8")
    proc = run_recipe(*args, "--extra-seeds", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("Stage 8 done in") == 1 and "already done, skipping" in proc.stderr  # main skipped
    seed_dir = exp2 / "seed_runs" / "seed2"
    for system in ("hybrid_audio", "hybrid_video", "hybrid_deep_fusion"):
        link = exp2 / f"{system}_seed2"
        assert link.is_symlink() and link.resolve() == (seed_dir / system).resolve()
        command = json.loads((link / "provenance.json").read_text())["command"]
        assert "--seed 2" in command and f"--exp {seed_dir}" in command, command
    main_w = (exp2 / "hybrid_audio" / "final.pt").read_bytes()
    assert (exp2 / "hybrid_audio_seed2" / "final.pt").read_bytes() != main_w  # another seed, another net
    again = run_recipe(*args, "--extra-seeds", "2")
    assert again.returncode == 0 and " done in " not in again.stderr  # idempotent
    for bad, message in (("2 x", "not a positive integer"), ("2 2", "given twice"), ("1234", "main run's seed")):
        proc = run_recipe(*args, "--extra-seeds", bad)
        assert proc.returncode == 1 and message in proc.stderr, (bad, proc.stderr[-500:])
