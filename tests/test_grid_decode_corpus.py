"""Decoding any GRID-layout folder with trained models (egs/grid/local/decode_corpus.sh), and the
three ways real folders used to fail: speakers outside the split (combine_sets traceback), a
single-speaker folder (no babble source) and GRID's digit code ``z`` without an .align file."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from lhotse import CutSet

import avsr.corpora.grid.folder_noise as folder_noise
from avsr.corpora.grid.decode import combine_sets, find_systems, shadow_model_dir
from avsr.corpora.grid.prepare import find_grid_clips, prepare_clip, prepare_grid
from avsr.corpora.grid.splits import SplitConfig
from avsr.data.noise import NoiseCondition
from avsr.utils.errors import AvsrInputError
from tests.conftest import copy_grid_sample, run_step_in_process
from tests.grid_helpers import GRID_S1, copy_s1_clips, fake_posterior_average, toy_gmm_and_hybrid

ROOT = Path(__file__).resolve().parents[1]
Z_CLIP = "bgahzn"  # "bin green at h zero now": GRID names zero "z"
LINE = re.compile(r"^%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \] \S+ \((gmm|hybrid|e2e), (A|V|AV)\) \S+ \S+$")

pytestmark = pytest.mark.skipif(not GRID_S1.is_dir(), reason=f"GRID s1 fixture not found at {GRID_S1}")


def _env() -> dict:
    return dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def test_digit_code_z_without_align_is_zero(tmp_path):
    corpus = copy_s1_clips(tmp_path / "grid", [Z_CLIP], with_align=False)
    rec = prepare_clip(find_grid_clips(corpus)[0], tmp_path / "wav")
    aligned = (GRID_S1 / "alignments" / "s1" / f"{Z_CLIP}.align").read_text().split()[2::3]
    assert rec.text == "bin green at h zero now" == " ".join(w for w in aligned if w != "sil")


def test_speakers_outside_the_split_give_empty_sets_not_a_traceback(tmp_path):
    # Unknown speaker names under the default (unseen) split: every clip trains, test/dev are empty.
    corpus = copy_s1_clips(tmp_path / "grid", ["bbaf2n", "bbaf4p"], speaker="spk_x")
    splits = prepare_grid(corpus, tmp_path / "wav", tmp_path / "index")
    assert len(splits["train"]) == 2 and not splits["test"] and not splits["dev"]
    (tmp_path / "fbank").mkdir()
    CutSet.from_cuts([]).to_file(tmp_path / "fbank" / "grid_cuts_test.jsonl.gz")  # what stage 1-3 leave for an empty split
    with pytest.raises(AvsrInputError, match="no cuts in sets test"):  # one line, no 'NoneType' traceback
        combine_sets(tmp_path / "fbank", "grid", ["test"], tmp_path / "out")
    # The decode path puts every clip in test, whatever the speakers are called.
    all_test = prepare_grid(corpus, tmp_path / "wav", tmp_path / "index2", split=SplitConfig("all_test"))
    assert sorted(r.utt_id for r in all_test["test"]) == ["spk_x_bbaf2n", "spk_x_bbaf4p"] and not all_test["train"]


def test_single_speaker_babble_is_made_of_the_other_clips(tmp_path, monkeypatch):
    corpus = copy_s1_clips(tmp_path / "grid", ["bbaf2n", "bbaf4p", Z_CLIP], speaker="unknown1", with_align=False)
    prepare_grid(corpus, tmp_path / "wav", tmp_path / "index", split=SplitConfig("all_test"))
    run_step_in_process(ROOT / "steps" / "make_manifests.py", "--index-dir", str(tmp_path / "index"), "--corpus", "grid",
                        "--splits", "test", "--out-dir", str(tmp_path / "manifests"), "--nj", "1", cwd=ROOT)
    cuts = CutSet.from_file(tmp_path / "manifests" / "grid_cuts_test.jsonl.gz")
    sources = {}
    real_make_babble = folder_noise.make_babble

    def spy(out_path, source_cuts, *args, **kwargs):
        sources[Path(out_path).name] = sorted(source_cuts.ids)
        return real_make_babble(out_path, source_cuts, *args, **kwargs)

    monkeypatch.setattr(folder_noise, "make_babble", spy)
    noisy = folder_noise.folder_noisy_copy(cuts, NoiseCondition("babble", 0), tmp_path / "noise", seed=1, duration_s=10.0)
    assert sorted(noisy.ids) == sorted(f"{c}_babble_snr0" for c in cuts.ids)
    folds = folder_noise.fold_of(list(cuts.ids), 3)
    assert len(sources) == 3  # one track per fold, none holding its own fold's clips
    for cut in noisy:
        clean = cut.tracks[0].cut.id
        track = next(t.cut.recording_id for t in cut.tracks[1:])
        assert clean not in sources[f"{track}.wav"]
        assert folds[clean] == int(track.split("_")[1].removeprefix("fold"))
    again = folder_noise.folder_noisy_copy(cuts, NoiseCondition("babble", 0), tmp_path / "noise", seed=1, duration_s=10.0)
    assert [c.to_dict() for c in again] == [c.to_dict() for c in noisy]  # deterministic
    with pytest.raises(AvsrInputError, match="babble needs other clips"):
        folder_noise.folder_noisy_copy(cuts.subset(first=1), NoiseCondition("babble", 0), tmp_path / "noise1")


@pytest.fixture(scope="module")
def toy_exp(tmp_path_factory):
    """A trained-looking exp dir: mono, tri, hybrid_audio, hybrid_concat and their posterior
    average (toy models with the real feature dims), no E2E systems."""
    models = tmp_path_factory.mktemp("toy_models")
    toy_gmm_and_hybrid(models, hybrids=("audio", "concat"))
    fake_posterior_average(models / "exp", ["exp/hybrid_audio", "exp/hybrid_concat"])
    return models / "exp"


def test_find_systems_of_an_exp_dir(toy_exp):
    systems, skipped = find_systems(toy_exp)
    assert [(s.name, s.family, s.modality) for s in systems] == [
        ("mono", "gmm", "A"), ("tri", "gmm", "A"), ("hybrid_audio", "hybrid", "A"), ("hybrid_concat", "hybrid", "AV"),
        ("hybrid_posterior_average", "hybrid", "AV")]
    assert {s.graph.name for s in systems if s.name != "mono"} == {"graph_grid_espeak"}
    assert not skipped


def test_shadow_dir_follows_a_retrained_model(tmp_path):
    """A model retrained with fewer epochs since the last decode: the shadow dir loses the links to
    checkpoints that are gone (they made the average fail: 'epoch-22.pt: checkpoint not found') and
    the decodes of the former model, and keeps nothing of the model's own outputs."""
    model, shadow = tmp_path / "transducer_v", tmp_path / "shadow"
    model.mkdir()
    for name in ("config.yaml", "epoch-1.pt", "epoch-2.pt", "epoch-3.pt"):
        (model / name).write_text(name)
    (model / "decode_epoch3_avg1").mkdir()  # the recipe's own decode: never linked
    shadow_model_dir(model, shadow)
    (shadow / "decode_epoch3_avg1").mkdir()  # the decode of that model, in the shadow
    assert shadow_model_dir(model, shadow) == shadow and (shadow / "decode_epoch3_avg1").is_dir()  # nothing changed
    (model / "epoch-3.pt").unlink()  # retrained for 2 epochs
    shadow_model_dir(model, shadow)
    assert sorted(p.name for p in shadow.iterdir()) == ["config.yaml", "epoch-1.pt", "epoch-2.pt"]
    assert all((shadow / n).is_symlink() for n in ("config.yaml", "epoch-1.pt", "epoch-2.pt"))
    (shadow / "stray.txt").write_text("x")  # not a link: never overwritten
    (model / "stray.txt").write_text("y")
    with pytest.raises(AvsrInputError, match="is not a link"):
        shadow_model_dir(model, shadow)


def _decode_corpus(folder: Path, exp: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "egs/grid/local/decode_corpus.sh"), "--corpus-dir", str(folder), "--exp", str(exp),
                           "--work", str(work), *extra], capture_output=True, text=True, env=_env(), timeout=300)


def test_decode_a_single_unknown_speaker_folder_without_align_and_its_babble_copy(tmp_path, toy_exp):
    folder = copy_s1_clips(tmp_path / "folder", ["bbaf2n", "bbaf4p", Z_CLIP], speaker="newcomer", with_align=False)
    proc = _decode_corpus(folder, toy_exp, tmp_path / "work", "--noise", "babble", "--snr", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("%WER")]
    assert lines and all(LINE.match(line) for line in lines), lines
    # every system x set, every clip (3 clips x 6 words)
    systems = {line.split("] ")[1].split(" (")[0] for line in lines}
    assert systems == {"mono", "tri", "hybrid_audio", "hybrid_concat", "hybrid_posterior_average"}
    assert {line.split()[-1] for line in lines} == {"test", "test_babble_snr0"}
    assert all(" / 18," in line for line in lines)
    assert "note: e2e not decoded: no CTC+attention or transducer system" in proc.stdout
    assert any("(hybrid, AV)" in line for line in lines)
    results = json.loads(next((tmp_path / "work").glob("decode_*/results.json")).read_text())
    assert len(results["results"]) == len(lines) == 10
    # the same work dir refuses another folder instead of mixing them
    other = copy_s1_clips(tmp_path / "other", ["bbaf5a"])
    proc = _decode_corpus(other, toy_exp, tmp_path / "work")
    assert proc.returncode == 1 and "prepared from another folder" in proc.stderr


def test_decode_the_two_speaker_sample_with_align(tmp_path, toy_exp):
    folder = copy_grid_sample(tmp_path / "sample")
    proc = _decode_corpus(folder, toy_exp, tmp_path / "work", "--systems", "tri hybrid_audio")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("%WER")]
    assert len(lines) == 2 and all(LINE.match(line) and " / 12," in line for line in lines), lines
