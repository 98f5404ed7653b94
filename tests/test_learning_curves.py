"""Learning curves from the E2E systems' log/epochs.csv: a model started from another continues
its update count; the plot is written."""
from __future__ import annotations

from pathlib import Path

import yaml

from avsr.leaderboard.learning_curves import collect_curves, plot_learning_curves


def write_system(exp: Path, name: str, rows: list[tuple[int, int, str, str]], init_from: str = "") -> None:
    d = exp / name
    (d / "log").mkdir(parents=True)
    cfg = {"model": "ctc_attention"}
    if init_from:
        cfg["init"] = [{"exp_dir": str(exp / init_from), "prefixes": ["encoder."]}]
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    lines = ["epoch,train_loss,dev_loss,dev_ter,dev_wer,steps,total_steps,seconds"]
    lines += [f"{e},1.0,1.0,{ter},{wer},{steps},{total},1.0" for e, (steps, total, ter, wer) in enumerate(rows, 1)]
    (d / "log" / "epochs.csv").write_text("\n".join(lines) + "\n")


def test_curves_continue_the_source_model_and_plot(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    write_system(exp, "ctc_att_a", [(50, 50, "40.0", "30.0"), (50, 100, "10.0", "5.0")])
    write_system(exp, "ctc_att_av_bilinear", [(50, 50, "8.0", "4.0"), (50, 100, "6.0", "")], init_from="ctc_att_a")
    write_system(exp, "transducer_a", [(50, 50, "9.0", "")], init_from="ctc_att_a")
    (exp / "hybrid_audio").mkdir()  # not an E2E system: ignored
    write_system(exp, "ctc_att_a_seed2", [(50, 50, "41.0", "31.0")])  # a seed run (--extra-seeds): not plotted
    curves = {c.system: c for c in collect_curves(exp)}
    assert set(curves) == {"ctc_att_a", "ctc_att_av_bilinear", "transducer_a"}
    assert curves["ctc_att_a"].steps == [50, 100] and curves["ctc_att_a"].wer == [30.0, 5.0]
    assert curves["ctc_att_av_bilinear"].steps == [150, 200] and curves["ctc_att_av_bilinear"].wer == [4.0, None]
    assert curves["transducer_a"].offset == 100 and curves["transducer_a"].ter == [9.0]
    png = plot_learning_curves(list(curves.values()), tmp_path / "plots" / "learning_curves.png")
    assert png is not None and png.stat().st_size > 10_000
    assert plot_learning_curves([], tmp_path / "none.png") is None
