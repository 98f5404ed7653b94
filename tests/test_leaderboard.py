"""Leaderboard (stage 14) on a fake experiment directory with known errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avsr.leaderboard import LeaderboardOptions, build_leaderboard, collect_rows
from avsr.leaderboard.conditions import Condition, parse_set_name
from avsr.score.bootstrap import bootstrap_interval
from avsr.utils.errors import AvsrInputError
from avsr.utils.provenance import record_command

REPO = Path(__file__).resolve().parents[1]
NUM_UTTS = 30
WORDS = ["bin", "blue", "at", "f", "two", "now"]  # 6 words per utterance
LEXICON = {"bin": "b I n", "blue": "b l u:", "at": "a t", "f": "E f", "two": "t u:", "now": "n aU", "red": "r E d"}
SETS = ["test", "test_babble_snr20", "test_babble_snr0", "test_babble_snr-5", "test_white_snr10"]


def utts() -> list[str]:
    return [f"s1_u{i:02d}" for i in range(NUM_UTTS)]


def write_summary(exp: Path, system: str, set_name: str, word_err: list[int], frame_err: int = 30) -> None:
    per_utt = {u: {"frame_err": frame_err, "frames": 100, "word_err": e, "words": 6, "phone_err": 2 * e, "phones": 14}
               for u, e in zip(utts(), word_err)}
    d = {"system": system, "set": set_name, "num_utts": NUM_UTTS,
         "frame_per": 100.0 * frame_err / 100, "wer": 100.0 * sum(word_err) / (6 * NUM_UTTS),
         "per": 100.0 * 2 * sum(word_err) / (14 * NUM_UTTS), "per_source": "phone_decode", "per_utt": per_utt}
    path = exp / system / f"score_{set_name}" / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))


def write_e2e(exp: Path, system: str, fusion: str, set_name: str, method: str, wrong_words: int, model: str = "ctc_attention") -> None:
    """Each utterance: the first ``wrong_words`` words substituted by "red"."""
    d = exp / system / "decode_epoch5_avg2" / set_name / method
    d.mkdir(parents=True, exist_ok=True)
    ref = "".join(f"{u} {' '.join(WORDS)}\n" for u in utts())
    hyp = "".join(f"{u} {' '.join(['red'] * wrong_words + WORDS[wrong_words:])}\n" for u in utts())
    (d / "ref.txt").write_text(ref)
    (d / "hyp.txt").write_text(hyp)
    base, cond = parse_set_name(set_name)
    rec = {"system": system, "model": model, "fusion": fusion, "modality": {"audio": "A", "video": "V"}.get(fusion, "AV"),
           "test_set": set_name, "base_set": base, "noise": cond.noise, "snr": cond.snr, "method": method, "epoch": 5,
           "avg": 2, "wer": 100.0 * wrong_words / 6, "errors": wrong_words * NUM_UTTS, "ref_words": 6 * NUM_UTTS,
           "ins": 0, "dels": 0, "subs": wrong_words * NUM_UTTS, "num_utts": NUM_UTTS, "rtf": 0.01, "options": {}}
    (d / "score.json").write_text(json.dumps(rec))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("recipe")
    exp = tmp_path / "exp"
    varied = [i % 3 for i in range(NUM_UTTS)]  # 0,1,2 errors: WER 16.7 %, a non-degenerate interval
    for s in SETS:
        noisy = s != "test"
        write_summary(exp, "hybrid_audio", s, [e + (3 if noisy else 0) for e in varied], frame_err=60 if noisy else 30)
        write_summary(exp, "hybrid_concat", s, varied, frame_err=40 if noisy else 25)  # clearly better in noise
        write_e2e(exp, "ctc_att_a", "audio", s, "ctc_prefix_beam", 3 if noisy else 1)
        write_e2e(exp, "ctc_att_av_bilinear", "bilinear", s, "ctc_prefix_beam", 1)
        write_e2e(exp, "ctc_att_av_concat", "concat", s, "ctc_prefix_beam", 3 if noisy else 1)  # identical to A
    for s in ["test", "test_babble_snr0"]:  # mono lacks the other sets: missing cells
        write_summary(exp, "mono", s, varied)
    write_e2e(exp, "transducer_a", "audio", "test", "modified_beam", 2, model="transducer")
    write_e2e(exp, "transducer_a", "audio", "test", "greedy", 2, model="transducer")
    (exp / "ctc_att_a" / "config.yaml").write_text("model: ctc_attention\n")
    record_command(exp / "hybrid_audio", ["steps/train_hybrid.py", "--conf", "conf/hybrid_audio.yaml", "--out", "exp/hybrid_audio"])
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "hybrid_audio.yaml").write_text("inherit: hybrid_common.yaml\nmodel:\n  variant: audio\n")
    (tmp_path / "conf" / "hybrid_common.yaml").write_text("train:\n  epochs: 3\n")
    lex = tmp_path / "lexicon.txt"
    lex.write_text("".join(f"{w} {p}\n" for w, p in LEXICON.items()))
    return tmp_path


def run_board(recipe: Path, out: str = "RESULTS.md", plots: str = "plots"):
    return build_leaderboard(LeaderboardOptions(
        exp=recipe / "exp", out=recipe / out, plots_dir=recipe / plots, lexicon=recipe / "lexicon.txt",
        command="./run.sh --preset tiny", date="2026-01-01 00:00 UTC", preset="tiny", seed="7", repo_dir=recipe,
        bootstrap_samples=300))


@pytest.fixture(scope="module")
def board(recipe: Path):
    """One leaderboard shared by the read-only tests (building it is the slow part)."""
    return run_board(recipe, "A.md", "plots_a")


def table_rows(markdown: str, title: str, system_col: int = 0, method_col: int = 2) -> dict[str, list[str]]:
    """{"<system> <method>": cells} of the table under ``## <title>`` (plus "header")."""
    body = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    table = body[body.index("\n|") + 1:].split("\n\n", 1)[0]  # the section's first table
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")]  # the |---| separator is left out
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {"header": header}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        out[f"{cells[system_col]} {cells[method_col]}".strip()] = cells
    return out


def test_wer_table_cells_ordering_and_missing(board) -> None:
    wer = table_rows(board.markdown, "WER (%)")
    assert wer["header"][3:] == ["clean", "babble 20 dB", "babble 0 dB", "babble -5 dB", "white 10 dB"]
    varied = [i % 3 for i in range(NUM_UTTS)]
    iv = bootstrap_interval(varied, [6] * NUM_UTTS, num_samples=300, seed=0)
    assert wer["hybrid_concat –"][3] == f"{iv.rate:.1f} [{iv.low:.1f}, {iv.high:.1f}]" == "16.7 " + f"[{iv.low:.1f}, {iv.high:.1f}]"
    assert iv.low < iv.rate < iv.high
    assert wer["mono –"][1] == "A" and wer["mono –"][4] == "–" and wer["mono –"][5] != "–"  # babble 20 missing, 0 present
    assert wer["ctc_att_a ctc_prefix_beam"][3] == "16.7 [16.7, 16.7]"  # one error in every utterance: no spread
    assert wer["ctc_att_av_bilinear ctc_prefix_beam"][1] == "AV"
    # families in order, E2E rows after hybrid ones
    order = [ln for ln in board.markdown.split("## WER (%)")[1].split("## PER")[0].splitlines() if ln.startswith("| **")]
    assert [ln.split("**")[1] for ln in order] == ["GMM", "hybrid", "CTC+attention", "transducer"]
    assert board.wer_table in board.markdown


def test_per_and_frame_per_tables(board) -> None:
    md = board.markdown
    per = table_rows(md, "PER (%)")
    # E2E: "red" (3 phones, r E d) replaces "bin" (b I n) → 3 substitutions of 14 phones
    assert per["ctc_att_av_bilinear ctc_prefix_beam"][3].startswith(f"{100 * 3 / 14:.1f} [")
    assert "phone-level decoding" in md and "mapped to phones with the lexicon" in md
    frame = table_rows(md, "Frame PER (%)")
    assert frame["hybrid_audio –"][3] == "30.0 [30.0, 30.0]"
    assert not any(k.startswith("ctc_att") for k in frame)


def test_significance_direction(board) -> None:
    md = board.markdown
    sig = table_rows(md, "AV vs audio-only", system_col=1, method_col=3)
    header = sig["header"]
    babble0 = header.index("babble 0 dB")
    assert "**better**" in sig["hybrid_concat –"][babble0]  # 3 fewer errors per utterance
    assert sig["hybrid_concat –"][babble0].startswith("-50.0 (-75 %)")
    assert "**better**" in sig["ctc_att_av_bilinear ctc_prefix_beam"][babble0]
    identical = sig["ctc_att_av_concat ctc_prefix_beam"][babble0]
    assert identical.startswith("+0.0") and "**" not in identical  # identical outputs: not significant
    claims = md.split("## Claims")[1].split("## Plots")[0]
    assert "AV better than A, hybrid" in claims and "**holds** (significant" in claims
    assert "Bilinear fusion better than concatenation, CTC+attention (babble 0 dB" in claims
    frame_sig = md.split("Frame PER, the same test")[1].split("## Claims")[0]
    assert "| hybrid | hybrid_concat | hybrid_audio | – | -5.0 (-17 %), P=1.000 **better** | -20.0 (-33 %), P=1.000 **better**" in frame_sig


def test_deterministic_plots_and_provenance(recipe: Path, board) -> None:
    a = board
    run_board(recipe, "B.md", "plots_b")
    assert (recipe / "A.md").read_text() == (recipe / "B.md").read_text().replace("plots_b", "plots_a")
    names = sorted(p.name for p in a.plots)
    assert names == ["fusion_frame_per.png", "wer_vs_snr.png", "wer_vs_snr_ctc_att.png", "wer_vs_snr_hybrid.png",
                     "wer_vs_snr_transducer.png"]
    for p in a.plots:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert data == (recipe / "plots_b" / p.name).read_bytes()
    assert "](plots_a/wer_vs_snr.png)" in a.markdown
    prov = a.markdown.split("## Provenance")[1]
    assert "<details>" in prov
    assert "`python steps/train_hybrid.py --conf conf/hybrid_audio.yaml --out exp/hybrid_audio`" in prov
    assert "`conf/hybrid_audio.yaml` (file named by --conf, hashed now with hybrid_common.yaml)" in prov
    assert "`ctc_att_a/config.yaml` (copy saved at training)" in prov
    assert "- git commit: `unknown`" in a.markdown and "- preset: `tiny`" in a.markdown and "torch" in a.markdown


def test_empty_exp_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    with pytest.raises(AvsrInputError, match="no score files"):
        collect_rows(tmp_path / "exp")
    out = subprocess.run([sys.executable, str(REPO / "steps" / "leaderboard.py"), "--exp", str(tmp_path / "exp"),
                          "--out", str(tmp_path / "R.md")], capture_output=True, text=True, cwd=tmp_path)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 1 and last.startswith(f"error: {tmp_path / 'exp'}: no score files"), out.stderr
    assert not (tmp_path / "R.md").exists()


def test_condition_parsing() -> None:
    assert parse_set_name("test_babble_snr-5") == ("test", Condition("babble", -5.0))
    assert parse_set_name("dev") == ("dev", Condition("clean"))
    assert Condition("white", 10.0).label == "white 10 dB"


def test_rate_without_counts_and_bad_file(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    write_e2e(exp, "transducer_a", "audio", "test", "greedy", 2, model="transducer")
    (exp / "transducer_a" / "decode_epoch5_avg2" / "test" / "greedy" / "hyp.txt").unlink()
    rows = collect_rows(exp, lexicon_path=None)
    cond = Condition("clean")
    assert rows[0].rate(cond, "wer") == pytest.approx(100 * 2 / 6) and "wer" not in rows[0].scores[cond].counts
    md = build_leaderboard(LeaderboardOptions(exp=exp, out=tmp_path / "R.md", lexicon=None, date="d",
                                              bootstrap_samples=50)).markdown
    assert "| transducer_a | A | greedy | 33.3 |" in md  # no interval without per-utterance counts
    bad = exp / "mono" / "score_test" / "summary.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(AvsrInputError, match="summary.json: unreadable score file"):
        collect_rows(exp)


def test_record_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = record_command(tmp_path / "sys", ["steps/train_e2e.py", "--set", "a b=1", "--exp-dir", "x"])
    assert path.read_text() == "python steps/train_e2e.py --set 'a b=1' --exp-dir x\n"
    monkeypatch.setenv("RANK", "1")  # torchrun worker: rank 0 alone writes
    assert record_command(tmp_path / "other", ["x.py"]) is None and not (tmp_path / "other").exists()
