"""Smoke test of bench/bench_training.py and bench/bench_decode.py on a fake experiment dir:
the tables parse, every system kind is found, and the rates follow from the recorded numbers."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import parse_markdown_table  # noqa: E402


def _write_cuts(path: Path, durations: list[float]) -> None:
    from lhotse import CutSet
    from lhotse.cut import MonoCut

    path.parent.mkdir(parents=True, exist_ok=True)
    CutSet.from_cuts(MonoCut(id=f"u{i}", start=0.0, duration=d, channel=0) for i, d in enumerate(durations)).to_file(path)


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


@pytest.fixture(scope="module")
def fake_exp(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bench")
    data, exp = root / "data", root / "exp"
    _write_cuts(data / "fbank" / "corp_cuts_train.jsonl.gz", [2.0, 3.0])        # 500 frames, 2 utts
    _write_cuts(data / "fbank" / "corp_cuts_train_multi.jsonl.gz", [2.0] * 4)   # 800 frames, 4 utts
    _write_cuts(data / "fbank" / "corp_cuts_test.jsonl.gz", [4.0, 6.0])         # 10 s
    # E2E: 2 epochs of 2 s and 4 s on train_multi; one decode
    e2e = exp / "ctc_att_a"
    _write_csv(e2e / "log" / "epochs.csv", [{"epoch": 1, "train_loss": 1, "dev_loss": 1, "steps": 2, "seconds": 2.0},
                                            {"epoch": 2, "train_loss": 1, "dev_loss": 1, "steps": 2, "seconds": 4.0}])
    _write_csv(e2e / "log" / "train.csv", [{"epoch": e, "step": s, "utts": 2} for e in (1, 2) for s in (1, 2)])
    (e2e / "config.yaml").write_text(f"model: ctc_attention\nfrontend: {{fusion: audio}}\n"
                                     f"data: {{dir: {data}, corpus: corp, train_set: train_multi}}\n")
    _write_json(e2e / "decode_epoch2_avg1" / "test" / "ctc_greedy" / "score.json",
                {"system": "ctc_att_a", "model": "ctc_attention", "method": "ctc_greedy", "test_set": "test",
                 "decode_seconds": 0.5, "encoder_seconds": 0.4, "audio_seconds": 10.0, "rtf": 0.05})
    # hybrid: 2 epochs of 0.5 s over 1000 frames, peak RSS recorded
    hyb = exp / "hybrid_audio"
    _write_json(hyb / "train.json", {"variant": "audio", "train_frames": 1000, "peak_rss_mib": 321.0,
                                     "seconds": {"train": 1.2},
                                     "history": [{"epoch": 1, "seconds": 0.5}, {"epoch": 2, "seconds": 0.5}]})
    (hyb / "frontend.npz").write_bytes(b"")
    _write_json(hyb / "decode.json", {"graph": "/x/tri/graph_grid_espeak"})
    _write_json(hyb / "score_test" / "summary.json", {"set": "test", "frames": 1000, "wer": 10.0,
                                                      "per_source": "phone_decode", "eval_seconds": 0.3, "seconds": 0.2})
    _write_json(exp / "hybrid_posterior_average" / "score_test" / "summary.json",
                {"set": "test", "frames": 1000, "wer": 9.0, "eval_seconds": 0.6, "seconds": 0.2})
    _write_json(exp / "hybrid_posterior_average" / "decode.json", {"graph": "/x/tri/graph_grid_espeak"})
    # GMM: 4 EM passes in 2 s over the train set
    _write_json(exp / "mono" / "train.json", {"kind": "mono", "train_set": "train", "seconds": {"train": 2.0},
                                              "history": [{"pass": i} for i in range(1, 5)]})
    _write_json(exp / "mono" / "score_test" / "summary.json", {"set": "test", "frames": 1000, "wer": 20.0,
                                                               "eval_seconds": 0.1, "seconds": 0.1})
    (exp / "plots").mkdir()  # not a system
    return exp, data


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return done.stdout


def test_training_table(fake_exp):
    exp, data = fake_exp
    out = _run("bench_training.py", "--exp", str(exp), "--data", str(data))
    rows = {r["system"]: r for r in parse_markdown_table(out)}
    assert set(rows) == {"mono", "hybrid_audio", "ctc_att_a"}
    assert "hybrid_posterior_average" in out.split("|")[-1]  # listed as untrained, under the table
    e2e = rows["ctc_att_a"]
    assert (e2e["kind"], e2e["epochs"], e2e["train s"], e2e["s/epoch"]) == ("ctc_attention audio", "2", "6.0", "3.00")
    assert e2e["frames/s"] == "267" and e2e["utts/s"] == "1.3" and e2e["peak MiB"] == "n/r"  # 800 frames, 4 utts / 3 s
    hyb = rows["hybrid_audio"]
    assert (hyb["epochs"], hyb["train s"], hyb["frames/s"], hyb["utts/s"], hyb["peak MiB"]) == ("2", "1.2", "2,000", "—", "321")
    mono = rows["mono"]
    assert (mono["kind"], mono["epochs"], mono["s/epoch"], mono["frames/s"], mono["utts/s"]) == ("gmm mono", "4", "0.50", "1,000", "4.0")


def test_decode_table(fake_exp):
    exp, data = fake_exp
    out = _run("bench_decode.py", "--exp", str(exp), "--data", str(data))
    rows = {(r["family"], r["method"]): r for r in parse_markdown_table(out)}
    hyb = rows[("hybrid", "HCLG graph_grid_espeak + phone bigram")]
    assert hyb["systems"] == "1"  # the posterior average decodes without the phone graph: its own method row
    assert (hyb["audio s"], hyb["decode s"], hyb["acoustic %"], hyb["RTF mean"]) == ("10.0", "0.50", "60", "0.0500")
    avg = rows[("hybrid", "HCLG graph_grid_espeak")]
    assert avg["RTF mean"] == "0.0800"
    ctc = rows[("ctc_attention", "ctc_greedy")]
    assert (ctc["decode s"], ctc["acoustic %"], ctc["RTF min"], ctc["RTF max"]) == ("0.50", "80", "0.0500", "0.0500")
    assert rows[("gmm", "HCLG")]["RTF mean"] == "0.0200"  # no decode.json: graph unknown


def test_decode_without_manifests_estimates_audio(fake_exp, tmp_path):
    exp, _ = fake_exp
    out = _run("bench_decode.py", "--exp", str(exp), "--data", str(tmp_path))
    rows = {(r["family"], r["method"]): r for r in parse_markdown_table(out)}
    assert rows[("gmm", "HCLG")]["audio s"] == "≈10.0"  # 1000 scored frames / 100 fps
