"""Leaderboard (stage 14) on a fake experiment directory with known errors: one metric per table,
failure counts, speaker-cluster tests, claims chosen on dev against the no-video control, seed
runs, provenance flags."""
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
from avsr.utils.provenance import PROVENANCE_FILE, record_command

REPO = Path(__file__).resolve().parents[1]
NUM_UTTS = 30
WORDS = ["bin", "blue", "at", "f", "two", "now"]  # 6 words per utterance
LEXICON = {"bin": "b I n", "blue": "b l u:", "at": "a t", "f": "E f", "two": "t u:", "now": "n aU", "red": "r E d"}
SETS = ["test", "test_babble_snr20", "test_babble_snr0", "test_babble_snr-5", "test_white_snr10"]
PHONE_SETS = ("test", "test_babble_snr0")  # phone-level decoding only here, as the recipe does
TRI = {"source": "tri", "num_classes": 312, "kind": "tri"}


def utts() -> list[str]:
    return [f"s{i % 3 + 1}_u{i:02d}" for i in range(NUM_UTTS)]  # 3 speakers, 10 utterances each


def write_summary(exp: Path, system: str, set_name: str, word_err: list[int], frame_err: int = 30,
                  failures: int = 0, targets: dict = TRI) -> None:
    phone = set_name.split("test")[-1] in ("", "_babble_snr0") and set_name.startswith(("test", "dev"))
    per_utt = {}
    for u, e in zip(utts(), word_err):
        c = {"spk": u.split("_")[0], "frame_err": frame_err, "frames": 100, "word_err": e, "words": 6,
             "word_phone_err": 2 * e, "word_phones": 14}
        if phone:
            c.update(phone_err=e, phones=14)
        per_utt[u] = c
    d = {"system": system, "set": set_name, "num_utts": NUM_UTTS, "frame_per": 100.0 * frame_err / 100,
         "frame_targets": targets, "wer": 100.0 * sum(word_err) / (6 * NUM_UTTS),
         "per_word_decode": 100.0 * 2 * sum(word_err) / (14 * NUM_UTTS), "search_failures": failures,
         "search_failed_utts": utts()[:failures], "per_utt": per_utt}
    if phone:
        d.update(per_phone_decode=100.0 * sum(word_err) / (14 * NUM_UTTS), phone_search_failures=0)
    path = exp / system / f"score_{set_name}" / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))


def write_e2e(exp: Path, system: str, fusion: str, set_name: str, method: str, wrong_words: int,
              model: str = "ctc_attention", dropped: str = "", failures: int = 0, recorded_as: str = "") -> None:
    """Each utterance: the first ``wrong_words`` words substituted by "red". ``recorded_as``: the
    system name score.json records (a seed run's: its main system's name)."""
    d = exp / system / "decode_epoch5_avg2" / (set_name + (f"_no-{dropped}" if dropped else "")) / method
    d.mkdir(parents=True, exist_ok=True)
    (d / "ref.txt").write_text("".join(f"{u} {' '.join(WORDS)}\n" for u in utts()))
    (d / "hyp.txt").write_text("".join(f"{u} {' '.join(['red'] * wrong_words + WORDS[wrong_words:])}\n" for u in utts()))
    (d / "utt2spk").write_text("".join(f"{u} {u.split('_')[0]}\n" for u in utts()))
    base, cond = parse_set_name(set_name)
    modality = {"audio": "A", "video": "V"}.get(fusion, "AV")
    if dropped:
        modality = {"audio": "V", "video": "A"}[dropped] + f"(of {modality}-{fusion})"
    rec = {"system": recorded_as or system, "model": model, "fusion": fusion, "modality": modality,
           "test_set": set_name, "base_set": base, "noise": cond.noise, "snr": cond.snr, "method": method, "epoch": 5,
           "avg": 2, "wer": 100.0 * wrong_words / 6, "errors": wrong_words * NUM_UTTS, "ref_words": 6 * NUM_UTTS,
           "ins": 0, "dels": 0, "subs": wrong_words * NUM_UTTS, "num_utts": NUM_UTTS, "rtf": 0.01, "options": {},
           "search_failures": failures}
    (d / "score.json").write_text(json.dumps(rec))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("recipe")
    exp = tmp_path / "exp"
    varied = [i % 3 for i in range(NUM_UTTS)]  # 0,1,2 errors: WER 16.7 %, a non-degenerate interval
    one_speaker = [e + (2 if i % 3 == 0 else 0) for i, e in enumerate(varied)]  # speaker s1 worse only
    for s in SETS:
        noisy = s != "test"
        write_summary(exp, "hybrid_audio", s, [e + (3 if noisy else 0) for e in varied], frame_err=60 if noisy else 30,
                      failures=4 if s == "test_babble_snr-5" else 0)
        write_summary(exp, "hybrid_concat", s, varied, frame_err=40 if noisy else 25)  # clearly better in noise
        write_summary(exp, "hybrid_bilinear", s, [max(e - 1, 0) for e in varied] if noisy else varied, frame_err=40)
        write_summary(exp, "hybrid_audio_seed2", s, [e + (3 if noisy else 0) for e in varied])
        write_summary(exp, "hybrid_concat_seed2", s, one_speaker if noisy else varied)
        write_e2e(exp, "ctc_att_a", "audio", s, "ctc_prefix_beam", 3 if noisy else 1, failures=2 if noisy else 0)
        write_e2e(exp, "ctc_att_av_bilinear", "bilinear", s, "ctc_prefix_beam", 1)
        write_e2e(exp, "ctc_att_av_concat", "concat", s, "ctc_prefix_beam", 3 if noisy else 1)  # identical to A
    # the AV model's own no-video ablation (the control), worse than AV at 0 dB
    write_e2e(exp, "ctc_att_av_bilinear", "bilinear", "test_babble_snr0", "ctc_prefix_beam", 2, dropped="video")
    # dev: hybrid_bilinear is best on test at 0 dB but hybrid_concat is best on dev, so the claim uses concat
    write_summary(exp, "hybrid_concat", "dev", [0] * NUM_UTTS)
    write_summary(exp, "hybrid_bilinear", "dev", [1] * NUM_UTTS)
    write_summary(exp, "hybrid_audio", "dev", [1] * NUM_UTTS)
    for s in ["test", "test_babble_snr0"]:  # mono lacks the other sets: missing cells; its own targets
        write_summary(exp, "mono", s, varied, targets={"source": "mono", "num_classes": 120, "kind": "mono"})
    write_e2e(exp, "transducer_a", "audio", "test", "modified_beam", 2, model="transducer")
    write_e2e(exp, "transducer_a", "audio", "test", "greedy", 2, model="transducer")
    (exp / "ctc_att_a" / "config.yaml").write_text("model: ctc_attention\n")
    record_command(exp / "hybrid_audio", ["steps/train_hybrid.py", "--conf", "conf/hybrid_audio.yaml", "--out", "exp/hybrid_audio"])
    (exp / "hybrid_concat" / PROVENANCE_FILE).write_text(json.dumps(
        {"commit": "unknown", "dirty": False, "state": "unknown", "command": "python steps/train_hybrid.py --out exp/hybrid_concat",
         "date": "2026-01-01", "config_sha256": "ab" * 32, "previous": []}))
    (exp / "hybrid_bilinear" / PROVENANCE_FILE).write_text(json.dumps(
        {"commit": "abc1234", "dirty": True, "state": "abc1234-dirty-0000ffff", "command": "python x.py",
         "date": "2026-01-01", "config_sha256": "cd" * 32, "previous": []}))
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


def section_of(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(markdown: str, title: str, system_col: int = 0, method_col: int = 2) -> dict[str, list[str]]:
    """{"<system> <method>": cells} of the table under ``## <title>`` (plus "header")."""
    body = section_of(markdown, title)
    table = body[body.index("\n|") + 1:].split("\n\n", 1)[0]  # the section's first table
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")]  # the |---| separator is left out
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {"header": header}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        out[f"{cells[system_col].rstrip('†‡')} {cells[method_col]}".strip()] = cells
    return out


def test_wer_table_cells_failures_and_marks(board) -> None:
    wer = table_rows(board.markdown, "WER (%)")
    assert wer["header"][3:] == ["clean", "babble 20 dB", "babble 0 dB", "babble -5 dB", "white 10 dB"]
    varied = dict(zip(utts(), [i % 3 for i in range(NUM_UTTS)]))
    iv = bootstrap_interval([varied[u] for u in sorted(varied)], [6] * NUM_UTTS, num_samples=300, seed=0)  # utterances in id order
    assert wer["hybrid_concat –"][3] == f"{iv.rate:.1f} [{iv.low:.1f}, {iv.high:.1f}]" == "16.7 " + f"[{iv.low:.1f}, {iv.high:.1f}]"
    assert iv.low < iv.rate < iv.high
    assert wer["mono –"][1] == "A" and wer["mono –"][4] == "–" and wer["mono –"][5] != "–"  # babble 20 missing, 0 present
    assert wer["ctc_att_a ctc_prefix_beam"][3] == "16.7 [16.7, 16.7]"  # one error in every utterance: no spread
    assert wer["ctc_att_a ctc_prefix_beam"][5].startswith("50.0<sup>2</sup> [")  # 2 failed searches, counted
    assert wer["hybrid_audio –"][6].startswith("66.7<sup>4</sup> [")
    assert "<sup>N</sup>: N utterances of that cell whose decoder search reached no final state (" in board.markdown
    assert wer["ctc_att_av_bilinear ctc_prefix_beam"][1] == "AV"
    assert not any("seed2" in k for k in wer)  # seed runs are not table rows
    # provenance marks: hybrid_bilinear trained at another code state, hybrid_audio recorded nothing
    assert "| hybrid_bilinear‡ |" in board.markdown and "| hybrid_audio† |" in board.markdown
    assert "| hybrid_concat |" in board.markdown  # trained at the page's state ("unknown" here): unmarked
    order = [ln for ln in section_of(board.markdown, "WER (%)").splitlines() if ln.startswith("| **")]
    assert [ln.split("**")[1] for ln in order] == ["GMM", "hybrid", "CTC+attention", "transducer"]
    assert board.wer_table in board.markdown


def test_one_metric_per_table(board) -> None:
    md = board.markdown
    phone = table_rows(md, "PER (%), phone-level decoding")
    assert phone["header"][3:] == ["clean", "babble 0 dB"]  # only where phones were decoded
    assert phone["hybrid_concat –"][3].startswith(f"{100 * 10 / 140:.1f} [")
    assert not any(k.startswith("ctc_att") for k in phone)  # E2E word models did not decode phones
    word = table_rows(md, "PER (%) of the word hypotheses")
    assert len(word["header"][3:]) == 5  # every condition: one metric throughout
    # E2E: "red" (3 phones, r E d) replaces "bin" (b I n) → 3 substitutions of 14 phones
    assert word["ctc_att_av_bilinear ctc_prefix_beam"][3].startswith(f"{100 * 3 / 14:.1f} [")
    assert word["hybrid_concat –"][3].startswith(f"{100 * 20 / 140:.1f} [")
    # frame error: one table per target set, mono (120 states) apart from tri (312 senones)
    tri = table_rows(md, "Frame state classification error (%), targets tri: 312 CD states (senones)")
    mono = table_rows(md, "Frame state classification error (%), targets mono: 120 monophone states")
    assert tri["hybrid_audio –"][3] == "30.0 [30.0, 30.0]" and "mono –" not in tri
    assert set(mono) == {"header", "**GMM**", "mono –"}
    assert "Frame PER" not in md and "senone" in md


def test_significance_uses_speaker_clusters(board) -> None:
    md = board.markdown
    sig = table_rows(md, "AV vs audio-only", system_col=1, method_col=3)
    babble0 = sig["header"].index("babble 0 dB")
    assert "**better**" in sig["hybrid_concat –"][babble0]  # 3 fewer errors per utterance
    assert sig["hybrid_concat –"][babble0].startswith("-50.0 (-75 %)")
    assert "(utt)" not in sig["hybrid_concat –"][babble0]  # speaker labels exist: cluster bootstrap
    identical = sig["ctc_att_av_concat ctc_prefix_beam"][babble0]
    assert identical.startswith("+0.0") and "**" not in identical  # identical outputs: not significant
    frame_sig = md.split("Frame state classification error, the same test")[1].split("## Claims")[0]
    assert "| hybrid | hybrid_concat | hybrid_audio | – | -5.0 (-17 %), P=1.000 **better** | -20.0 (-33 %), P=1.000 **better**" in frame_sig
    assert "speaker-cluster bootstrap" in section_of(md, "Notes on the numbers")


def test_claims_dev_selection_control_and_seeds(board) -> None:
    claims = section_of(board.markdown, "Claims (computed from the tables above)")
    lines = [ln for ln in claims.splitlines() if ln.startswith("- ")]
    hybrid = [ln for ln in lines if ln.startswith("- AV better than the audio-only system, hybrid")]
    assert len(hybrid) == 1 and "→ 16.7 % (hybrid_concat)" in hybrid[0]  # best on dev, not bilinear (best on test)
    assert "chosen on dev clean: WER 0.0 %" in hybrid[0] and "no no-video ablation of hybrid_concat" in hybrid[0]
    assert "speaker-cluster bootstrap over 3 speakers; utterance bootstrap: P = 1.000" in hybrid[0]
    # seeds: concat_seed2 is better only for speaker s1 at 0 dB... and audio_seed2 matches audio
    assert "Over 2 seeds (main, 2): holds (significant) in " in hybrid[0] and "relative change over seeds: mean" in hybrid[0]
    ctc = [ln for ln in lines if "own no-video ablation" in ln and "CTC+attention" in ln]
    assert ctc and all("(no dev scores: none is chosen)" in ln for ln in ctc)
    assert "ctc_att_av_bilinear / ctc_prefix_beam (no-video)" in ctc[0] and "**holds**" in ctc[0]
    every = next(ln for ln in lines if ln.startswith("- AV fusion helps at babble 0 dB in"))
    assert "**does not hold** for ctc_att_av_concat / ctc_prefix_beam vs ctc_att_a / ctc_prefix_beam" in every
    assert "Bilinear fusion better than concatenation, CTC+attention (babble 0 dB" in claims
    assert "chosen on the dev set, never on the test set" in claims
    seeds = section_of(board.markdown, "Seeds")
    assert "| hybrid_concat | AV | – | main, 2 | 16.7 ± 0.0 (2) |" in seeds


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
    assert "| hybrid_bilinear | `abc1234-dirty-0000ffff` (2026-01-01) ‡ |" in prov
    assert "| hybrid_concat | `unknown` (2026-01-01) |" in prov and "abababababab" in prov
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


def test_rate_without_counts_old_format_and_bad_file(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    write_e2e(exp, "transducer_a", "audio", "test", "greedy", 2, model="transducer")
    (exp / "transducer_a" / "decode_epoch5_avg2" / "test" / "greedy" / "hyp.txt").unlink()
    # a summary.json of the format before the two PERs were split: its "per" is a word-decode PER
    old = {"set": "test", "wer": 10.0, "per": 5.0, "per_source": "word_decode",
           "per_utt": {"u1": {"word_err": 1, "words": 10, "phone_err": 1, "phones": 20}}}
    (exp / "mono" / "score_test").mkdir(parents=True)
    (exp / "mono" / "score_test" / "summary.json").write_text(json.dumps(old))
    rows = {r.system: r for r in collect_rows(exp, lexicon_path=None)}
    cond = Condition("clean")
    assert rows["transducer_a"].rate(cond, "wer") == pytest.approx(100 * 2 / 6) and "wer" not in rows["transducer_a"].scores[cond].counts
    assert rows["mono"].rate(cond, "per_word") == 5.0 and rows["mono"].rate(cond, "per") is None
    md = build_leaderboard(LeaderboardOptions(exp=exp, out=tmp_path / "R.md", lexicon=None, date="d",
                                              bootstrap_samples=50)).markdown
    assert "| transducer_a† | A | greedy | 33.3 |" in md  # no interval without per-utterance counts
    bad = exp / "mono" / "score_test" / "summary.json"
    bad.write_text("{not json")
    with pytest.raises(AvsrInputError, match="summary.json: unreadable score file"):
        collect_rows(exp)


def test_record_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = record_command(tmp_path / "sys", ["steps/train_e2e.py", "--set", "a b=1", "--exp-dir", "x"])
    assert path.read_text() == "python steps/train_e2e.py --set 'a b=1' --exp-dir x\n"
    monkeypatch.setenv("RANK", "1")  # torchrun worker: rank 0 alone writes
    assert record_command(tmp_path / "other", ["x.py"]) is None and not (tmp_path / "other").exists()


def test_e2e_seed_runs_stay_rows_of_their_own(tmp_path: Path) -> None:
    """run.sh --extra-seeds decodes a seed's model in seed_runs/seed<N>/<system> (score.json says
    <system>) and links it as <system>_seed<N>: it must not merge into the main row."""
    exp = tmp_path / "exp"
    write_e2e(exp, "ctc_att_a", "audio", "test", "ctc_greedy", 1)
    seed_dir = exp / "seed_runs" / "seed2"
    write_e2e(seed_dir, "ctc_att_a", "audio", "test", "ctc_greedy", 4)
    (exp / "ctc_att_a_seed2").symlink_to(Path("seed_runs") / "seed2" / "ctc_att_a")
    rows = {(r.system, r.seed): r for r in collect_rows(exp)}
    assert set(rows) == {("ctc_att_a", None), ("ctc_att_a_seed2", 2)}
    test = parse_set_name("test")[1]
    assert rows[("ctc_att_a", None)].rate(test, "wer") == pytest.approx(100 / 6)
    assert rows[("ctc_att_a_seed2", 2)].rate(test, "wer") == pytest.approx(400 / 6)
