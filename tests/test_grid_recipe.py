"""egs/grid on a copy of the two real GRID clips: stage 0 through egs/grid/run.sh (which hands
stages 1+ to the top-level pipeline: checked with a stub pipeline that records its arguments),
stages 1-3 through the step CLIs, then decoding the real clips with "embedded-corpus" models:
a toy GMM-HMM + hybrid (trained on toy cuts in the stage-3 layout, same feature dims) and two
tiny E2E models (audio-only and AV, trained for a few steps on the GRID cuts themselves)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from lhotse import CutSet, validate

from avsr.corpora.grid.decode import decode_exp
from tests.conftest import copy_grid_sample, run_step_in_process
from tests.e2e_helpers import TINY_CONFIG
from tests.grid_helpers import toy_gmm_and_hybrid

ROOT = Path(__file__).resolve().parents[1]
STUB_PIPELINE = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$(dirname "$0")/pipeline_args.txt"
"""


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _env() -> dict:
    return dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


_run_step = run_step_in_process


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """egs/grid stage 0 (+ delegation to a stub pipeline), then stages 1-3 via the steps."""
    root = tmp_path_factory.mktemp("grid_recipe")
    corpus = copy_grid_sample(root / "corpus")
    before = _digest(corpus)
    stub = root / "pipeline.sh"
    stub.write_text(STUB_PIPELINE)
    stub.chmod(0o755)
    data, exp = root / "data", root / "exp"
    proc = subprocess.run(
        ["bash", str(ROOT / "egs/grid/run.sh"), "--grid-root", str(corpus), "--data", str(data), "--exp", str(exp),
         "--pipeline", str(stub), "--stop-stage", "3", "--nj", "1"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = ROOT / "steps"
    _run_step(steps / "make_manifests.py", "--index-dir", str(data / "local/grid"), "--corpus", "grid",
              "--out-dir", str(data / "manifests"), "--nj", "1", cwd=ROOT)
    _run_step(steps / "make_noisy_sets.py", "--manifest-dir", str(data / "manifests"), "--corpus", "grid",
              "--noise-dir", str(data / "noise"), "--conf", "conf/noise.yaml", "--seed", "1234", cwd=ROOT)
    _run_step(steps / "compute_features.py", "--manifest-dir", str(data / "manifests"), "--corpus", "grid",
              "--out-dir", str(data / "fbank"), "--video-dir", str(data / "video"), "--index-dir", str(data / "local/grid"),
              "--conf", "conf/features.yaml", "--nj", "1", cwd=ROOT)
    return {"root": root, "corpus": corpus, "before": before, "data": data, "exp": exp}


def test_stage0_writes_the_contract_index_and_delegates(recipe):
    data, root = recipe["data"], recipe["root"]
    assert _digest(recipe["corpus"]) == recipe["before"]  # the corpus is only read
    index = data / "local" / "grid"
    assert {p.name for p in index.iterdir()} >= {"train.jsonl", "dev.jsonl", "test.jsonl", "lexicon.txt", "split.json", "split_utts.tsv"}
    assert json.loads((index / "split.json").read_text())["protocol"] == "unseen"
    lexicon = (index / "lexicon.txt").read_text().splitlines()
    assert len({line.split()[0] for line in lexicon}) == 51 and "bin B IH N" in lexicon
    # Stages 1+ go to the pipeline with the contract's options (absolute dirs: it runs elsewhere).
    args = (root / "pipeline_args.txt").read_text().split("\n")[:-1]
    assert args == ["--corpus", "grid", "--data", str(data), "--exp", str(recipe["exp"]), "--stage", "1", "--stop-stage", "3",
                    "--modality", "av", "--lexicon", str(index / "lexicon.txt"), "--grammar", "grid", "--preset", "default", "--nj", "1", "--seed", "1234",
                    "--results", str(recipe["exp"] / "RESULTS.md")]



def test_extra_seeds_reach_the_pipeline(recipe):
    root = recipe["root"]
    proc = subprocess.run(
        ["bash", str(ROOT / "egs/grid/run.sh"), "--corpus-dir", str(recipe["corpus"]), "--data", str(recipe["data"]),
         "--exp", str(recipe["exp"]), "--pipeline", str(root / "pipeline.sh"), "--stage", "1", "--stop-stage", "3",
         "--nj", "1", "--extra-seeds", "2 3"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    args = (root / "pipeline_args.txt").read_text().split("\n")[:-1]
    assert args[args.index("--extra-seeds") + 1] == "2 3"

def test_stages_1_to_3_on_the_real_clips(recipe):
    data = recipe["data"]
    test = CutSet.from_file(data / "fbank" / "grid_cuts_test.jsonl.gz")
    train = CutSet.from_file(data / "fbank" / "grid_cuts_train.jsonl.gz")
    validate(CutSet.from_file(data / "manifests" / "grid_cuts_test.jsonl.gz"), read_data=True)
    assert [c.supervisions[0].text for c in test] == ["bin blue at f two now"]  # s1 is a test speaker
    assert [c.supervisions[0].text for c in train] == ["set white with p two soon"]
    cut = test[0]
    assert cut.load_features().shape[1] == 80 and cut.load_mfcc().shape[1] == 24
    assert cut.load_mouth_roi().shape[1:] == (44, 44)
    assert abs(cut.load_mouth_roi().shape[0] * 0.04 - cut.duration) <= 0.04

    stats = json.loads((data / "video" / "roi_stats.json").read_text())
    per_clip = {c["cut_id"]: c["face_fraction"] for c in stats["clips"]}
    assert set(per_clip) == {"s1_bbaf2n", "id2_swwp2s"}
    assert all(f >= 0.95 for f in per_clip.values()), per_clip

    noisy = CutSet.from_file(data / "fbank" / "grid_cuts_test_babble_snr0.jsonl.gz")[0]
    np.testing.assert_array_equal(noisy.load_mouth_roi(), cut.load_mouth_roi())  # video stays clean
    assert not np.allclose(noisy.load_features(), cut.load_features())


def _tiny_e2e(models: Path, grid_data: Path) -> None:
    """exp/ctc_att_a and exp/ctc_att_av_bilinear: tiny CTC+attention models, 2 epochs on the GRID
    train_multi cuts (real fbank + mouth ROI), so they accept exactly the features GRID has."""
    conf = models / "conf" / "ctc_tiny.yaml"
    conf.write_text(yaml.safe_dump(dict(TINY_CONFIG, train=dict(TINY_CONFIG["train"], epochs=2))))
    for name, fusion in (("ctc_att_a", "audio"), ("ctc_att_av_bilinear", "bilinear")):
        _run_step(ROOT / "steps" / "train_e2e.py", "--conf", str(conf), "--data", str(grid_data), "--corpus", "grid",
                  "--train-set", "train_multi", "--dev-set", "", "--fusion", fusion, "--exp-dir", f"exp/{name}", "--device", "cpu",
                  cwd=models)


def test_decode_the_real_clips_with_embedded_style_models(recipe, torch_one_thread):
    models = recipe["root"] / "models"
    models.mkdir()
    toy_gmm_and_hybrid(models)
    _tiny_e2e(models, recipe["data"])
    for system in ("tri", "hybrid_audio"):
        assert not (models / "exp" / system / "decode.json").exists()  # scale falls back to 0.1 (logged)
    out = recipe["root"] / "decode_embedded"
    before = _digest(models / "exp")
    results = decode_exp(models / "exp", recipe["data"], out, sets=["test", "train"],
                         systems=["tri", "hybrid_audio", "ctc_att_a", "ctc_att_av_bilinear"])
    assert _digest(models / "exp") == before  # the models' dirs are only read: outputs go to shadow dirs

    # Each real clip's set is decoded by every system asked for, A and AV.
    by_system = {}
    for r in results:
        by_system.setdefault(r.system, []).append(r)
        assert r.num_utts == 1 and r.set_name in ("test", "train") and r.wer_line.startswith("%WER ")
        assert r.wer >= 0.0
        hyp_ids = [line.split()[0] for line in Path(r.hyp_file).read_text().splitlines()]
        assert hyp_ids == (["s1_bbaf2n"] if r.set_name == "test" else ["id2_swwp2s"])
    assert set(by_system) == {"tri", "hybrid_audio", "ctc_att_a", "ctc_att_av_bilinear"}
    assert [(r.family, r.modality) for r in by_system["tri"]] == [("gmm", "A")] * 2
    assert {r.modality for r in by_system["ctc_att_av_bilinear"]} == {"AV"}
    assert {r.method for r in by_system["ctc_att_a"]} >= {"ctc_greedy", "joint_ctc_attention"}  # no HLG graph here
    assert by_system["tri"][0].method == "hclg_grid_espeak_ac0.1"
    # HCLG decoding with the GRID grammar yields a 6-word GRID sentence per clip (the toy GMM may
    # find no path at all on real MFCCs: its features are far from them; the real embedded one does).
    for r in by_system["hybrid_audio"]:
        assert [len(line.split()[1:]) for line in Path(r.hyp_file).read_text().splitlines()] == [6]

    lines = (out / "results.txt").read_text().splitlines()
    assert len(lines) == len(results) and all(line.startswith("%WER ") for line in lines)
    summary = json.loads((out / "results.json").read_text())
    assert len(summary["results"]) == len(results)


def test_corpus_dir_is_required_and_grid_root_is_an_alias(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "egs/grid/run.sh"), "--data", str(tmp_path / "d")], capture_output=True, text=True)
    assert proc.returncode == 1 and "--corpus-dir is required" in proc.stderr
    proc = subprocess.run(["bash", str(ROOT / "egs/grid/run.sh"), "--grid-root", "/a", "--corpus-dir", "/b"], capture_output=True, text=True)
    assert proc.returncode == 1 and "disagree" in proc.stderr
    proc = subprocess.run(["bash", str(ROOT / "egs/grid/run.sh"), "--corpus-dir", "/a", "--split", "random"], capture_output=True, text=True)
    assert proc.returncode == 1 and "--split must be unseen or overlapped" in proc.stderr
