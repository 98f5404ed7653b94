"""ONNX export in sherpa-onnx's layout, decoding with sherpa-onnx's OfflineRecognizer and with our
own onnxruntime loop, against the torch decoders (issue 15 items 2-3).

Models: seeded random tiny models (tests/deploy_helpers.py says why); audio: real GRID
recordings of speaker s1 (the default ``unit`` sample scale, sherpa-onnx's stock float-sample
usage, for the transducer) and int16-range samples for the ``int16`` exports (bit-exact features:
the CTC model on GRID audio, the transducer on espeak speech).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deploy_helpers import build_hlg, grid_audio, make_exp, sherpa_ids, speech_clips

sherpa_onnx = pytest.importorskip("sherpa_onnx", reason="sherpa-onnx is in requirements.txt")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in requirements.txt")

NUM_GRID = 20


def agreement(a: list, b: list) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


def assert_not_vacuous(hyps: list[list[int]]) -> None:
    assert all(hyps), "a hypothesis is empty: the test would prove nothing"
    assert len({tuple(h) for h in hyps}) > len(hyps) // 2, "hypotheses are nearly all alike"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from avsr.deploy.export_onnx import export_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("onnx")
    exps = {"t_a": make_exp(root, "t_a", "transducer", "audio", seed=1),
            "c_a": make_exp(root, "c_a", "ctc_attention", "audio", seed=2),
            "t_av": make_exp(root, "t_av", "transducer", "bilinear", seed=3)}
    hlg = build_hlg(exps["c_a"], root / "graph")
    out = {"root": root, "exps": exps, "hlg": hlg,
           "t_a": export_model(exps["t_a"], root / "onnx_t_a", sample_scale="unit"),
           "t_a16": export_model(exps["t_a"], root / "onnx_t_a16"),  # the default for utterance-CMN models
           "c_a": export_model(exps["c_a"], root / "onnx_c_a", hlg_dir=hlg),
           "t_av": export_model(exps["t_av"], root / "onnx_t_av")}
    return out


def torch_encode(exp: Path, fbank: np.ndarray, video=None):
    from avsr.e2e.decode import load_e2e_model
    from avsr.train.data import Utterance, collate

    model, _, tok, _ = load_e2e_model(exp)
    batch = collate([Utterance("u", fbank, video, "", 1.0)])
    with torch.no_grad():
        enc, lens = model.encode(batch)
    return model, tok, enc[0], int(lens[0])


def test_layout_names_and_metadata(env) -> None:
    import onnx

    d = env["t_a"].out_dir
    assert sorted(p.name for p in d.iterdir()) == ["decoder.onnx", "encoder.onnx", "export.json", "joiner.onnx", "tokens.txt"]
    assert (d / "tokens.txt").read_text().splitlines()[0] == "<blk> 0"
    io = {}
    for name in ("encoder", "decoder", "joiner"):
        m = onnx.load(str(d / f"{name}.onnx"))
        io[name] = ([i.name for i in m.graph.input], [o.name for o in m.graph.output], {p.key: p.value for p in m.metadata_props})
    assert io["encoder"][:2] == (["x", "x_lens"], ["encoder_out", "encoder_out_lens"])
    assert io["encoder"][2]["model_type"] == "conformer" and io["encoder"][2]["feature_normalize_samples"] == "1"
    assert io["decoder"][:2] == (["y"], ["decoder_out"])
    assert io["decoder"][2]["context_size"] == "2" and int(io["decoder"][2]["vocab_size"]) > 10
    assert io["joiner"][:2] == (["encoder_out", "decoder_out"], ["logit"])
    c = onnx.load(str(env["c_a"].out_dir / "model.onnx"))
    assert [o.name for o in c.graph.output] == ["log_probs", "log_probs_len"]
    assert c.graph.output[0].type.tensor_type.shape.dim[2].dim_value > 10  # static vocab: sherpa reads V from it
    assert (env["c_a"].out_dir / "HLG.fst").is_file() and (env["c_a"].out_dir / "words.txt").is_file()
    av = onnx.load(str(env["t_av"].out_dir / "encoder.onnx"))
    assert [i.name for i in av.graph.input] == ["x", "x_lens", "video", "video_lens"]
    assert all(v < 1e-4 for r in ("t_a", "c_a", "t_av") for v in env[r].max_abs_diff.values())
    assert env["t_a16"].meta["sample_scale"] == "int16" and env["c_a"].meta["sample_scale"] == "int16"


def test_sherpa_transducer_matches_torch(env) -> None:
    """Greedy (1 symbol per frame, sherpa-onnx's offline greedy) and modified beam search (final
    pick by length-normalised score, as sherpa-onnx does) on real GRID audio."""
    from avsr.deploy.onnx_decode import OnnxE2E
    from avsr.e2e.search_transducer import greedy_search, modified_beam_search
    from avsr.features.audio import compute_fbank

    d = env["t_a"].out_dir
    files = [str(d / f) for f in ("encoder.onnx", "decoder.onnx", "joiner.onnx", "tokens.txt")]
    greedy = sherpa_onnx.OfflineRecognizer.from_transducer(*files, num_threads=1)
    beam = sherpa_onnx.OfflineRecognizer.from_transducer(*files, num_threads=1, decoding_method="modified_beam_search",
                                                         max_active_paths=4)
    onnx_model = OnnxE2E(d)
    rows = {k: [] for k in ("torch", "ort", "sherpa", "torch_mb", "sherpa_mb")}
    for _, audio in grid_audio(NUM_GRID):
        fbank = compute_fbank(audio)
        model, tok, enc, n = torch_encode(env["exps"]["t_a"], fbank)
        rows["torch"].append(greedy_search(model, enc, n, 1))
        hyps = modified_beam_search(model, enc, n, 4)
        rows["torch_mb"].append(max(hyps, key=lambda h: h[1] / (len(h[0]) + 2))[0])
        e, _ = onnx_model.encode(fbank, None)
        rows["ort"].append(onnx_model.greedy(e, 1))
        for rec, key in ((greedy, "sherpa"), (beam, "sherpa_mb")):
            s = rec.create_stream()
            s.accept_waveform(16000, audio)
            rec.decode_stream(s)
            rows[key].append(sherpa_ids(s.result.tokens, tok.pieces()))
    assert_not_vacuous(rows["torch"])
    assert rows["ort"] == rows["torch"]
    assert agreement(rows["sherpa"], rows["torch"]) >= 0.95, rows
    assert agreement(rows["sherpa_mb"], rows["torch_mb"]) >= 0.95


def test_sherpa_int16_export_is_exact(env, tmp_path: Path) -> None:
    """An int16 export fed int16-range samples sees stage 3's features exactly."""
    import soundfile as sf

    from avsr.e2e.search_transducer import greedy_search
    from avsr.features.audio import compute_fbank

    d = env["t_a16"].out_dir
    rec = sherpa_onnx.OfflineRecognizer.from_transducer(*(str(d / f) for f in ("encoder.onnx", "decoder.onnx", "joiner.onnx",
                                                                                "tokens.txt")), num_threads=1)
    ours, theirs = [], []
    for wav, _ in speech_clips(tmp_path, 8):
        audio, _ = sf.read(wav, dtype="float32")
        model, tok, enc, n = torch_encode(env["exps"]["t_a"], compute_fbank(audio))
        ours.append(greedy_search(model, enc, n, 1))
        s = rec.create_stream()
        s.accept_waveform(16000, audio * 32768.0)
        rec.decode_stream(s)
        theirs.append(sherpa_ids(s.result.tokens, tok.pieces()))
    assert_not_vacuous(ours)
    assert theirs == ours


def test_sherpa_ctc_greedy_and_hlg_match_torch(env) -> None:
    """CTC greedy, and HLG decoding with sherpa-onnx's ctc_graph option over our HLG.fst (the same
    Kaldi FasterDecoder; compared at sherpa-onnx's settings: beam 16, max-active 3000, no retry)."""
    from avsr.decode.decoder import DecodingGraph
    from avsr.deploy.onnx_decode import OnnxE2E
    from avsr.deploy.search import best_path
    from avsr.e2e.hlg import HlgDecoder
    from avsr.e2e.search_ctc import ctc_greedy
    from avsr.features.audio import compute_fbank

    d = env["c_a"].out_dir  # int16 export: sherpa-onnx gets int16-range samples
    greedy = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(str(d / "model.onnx"), str(d / "tokens.txt"), num_threads=1)
    hlg = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(str(d / "model.onnx"), str(d / "tokens.txt"), num_threads=1,
                                                           ctc_graph=str(d / "HLG.fst"))
    words = {int(i): w for w, i in (line.split() for line in (d / "words.txt").read_text().splitlines())}
    onnx_model = OnnxE2E(d)
    graph = DecodingGraph.load(env["hlg"])
    rows = {k: [] for k in ("torch", "ort", "sherpa", "torch_hlg", "sherpa_hlg")}
    for _, audio in grid_audio(NUM_GRID):
        fbank = compute_fbank(audio)
        model, tok, enc, n = torch_encode(env["exps"]["c_a"], fbank)
        with torch.no_grad():
            lp = model.ctc_log_probs(enc[:n])
        rows["torch"].append(ctc_greedy(lp))
        rows["ort"].append(onnx_model.ctc_greedy(onnx_model.encode(fbank, None)[0]))
        decoder = HlgDecoder(graph, HlgDecoder.load(env["hlg"], tok, None).column_of_token, None)
        path = best_path(graph, decoder.scores(lp), 16.0, 1.0, (1.0,), 3000)
        rows["torch_hlg"].append([] if path.partial else path.words)
        for rec, key in ((greedy, "sherpa"), (hlg, "sherpa_hlg")):
            s = rec.create_stream()
            s.accept_waveform(16000, audio * 32768.0)
            rec.decode_stream(s)
            rows[key].append(sherpa_ids(s.result.tokens, tok.pieces()) if key == "sherpa"
                             else [words[w] for w in s.result.words])
    assert_not_vacuous(rows["torch"])
    assert rows["ort"] == rows["torch"]
    assert agreement(rows["sherpa"], rows["torch"]) >= 0.95
    assert sum(bool(h) for h in rows["torch_hlg"]) >= NUM_GRID // 2  # most searches reach a final state
    assert agreement(rows["sherpa_hlg"], rows["torch_hlg"]) >= 0.95, rows


def test_av_onnxruntime_loop_equals_torch_greedy(env) -> None:
    """The AV transducer (audio + mouth crops) through our onnxruntime loop: exactly torch's greedy
    (3 symbols per frame) and modified beam hypotheses."""
    from avsr.deploy.onnx_decode import OnnxE2E
    from avsr.e2e.search_transducer import greedy_search, modified_beam_search
    from avsr.features.audio import compute_fbank

    onnx_model = OnnxE2E(env["t_av"].out_dir)
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for _, audio in grid_audio(4):
        fbank = compute_fbank(audio)
        crops = rng.integers(0, 256, (-(-len(fbank) // 4), 44, 44), dtype=np.uint8)
        model, _, enc, n = torch_encode(env["exps"]["t_av"], fbank, crops)
        e, m = onnx_model.encode(fbank, crops)
        assert m == n
        ours.append((greedy_search(model, enc, n, 3), modified_beam_search(model, enc, n, 4)[0][0]))
        theirs.append((onnx_model.greedy(e, 3), onnx_model.modified_beam(e, 4)[0][0]))
    assert_not_vacuous([o[0] for o in ours])
    assert theirs == ours


def test_export_refuses_bad_requests(env, tmp_path: Path) -> None:
    from avsr.deploy.export_onnx import export_model
    from avsr.utils.errors import AvsrInputError

    with pytest.raises(AvsrInputError, match="no transducer head"):
        export_model(env["exps"]["c_a"], tmp_path / "x", head="transducer")
    with pytest.raises(AvsrInputError, match="no stream to drop"):
        export_model(env["exps"]["t_a"], tmp_path / "y", drop="video")
    with pytest.raises(AvsrInputError, match="HLG graph goes with a CTC export"):
        export_model(env["exps"]["t_a"], tmp_path / "z", hlg_dir=env["hlg"])
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()  # nothing half-written

def test_export_cli_error_line(env, tmp_path: Path, capsys) -> None:
    from avsr.deploy.cli import export_main

    with pytest.raises(SystemExit) as exit_info:
        export_main(["--exp", str(env["root"]), "--system", "nope", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.startswith("error: ") and "no such system directory" in err
    assert not (tmp_path / "o").exists()
