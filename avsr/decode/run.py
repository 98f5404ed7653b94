"""Decode a whole score archive through a graph directory and write Kaldi-style hyp text
(``utt w1 w2 ...``), plus decode.json recording the graph and archive hashes."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Union

from tqdm import tqdm

from avsr.decode.archive import read_score_archive
from avsr.decode.decoder import GRAPH_FILES, DecodeOptions, DecodingGraph, decode_best, decode_nbest
from avsr.utils.io import write_json_atomic, write_text_atomic
from avsr.wfst.fstutil import file_sha256

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


def decode_archive(
    graph_dir: PathLike,
    scores: PathLike,
    hyp_out: PathLike,
    options: Optional[DecodeOptions] = None,
    nbest_out: Optional[PathLike] = None,
) -> dict[str, list[str]]:
    """Decode every utterance of ``scores`` (see avsr.decode.archive); returns {utt: words}.

    A real model's posterior archive plugs in here unchanged: point ``scores`` at it."""
    opts = options or DecodeOptions()
    graph = DecodingGraph.load(graph_dir)
    matrices = read_score_archive(scores)
    hyps: dict[str, list[str]] = {}
    nbest_lines: list[str] = []
    failed: list[str] = []
    t0 = time.time()
    num_frames = 0
    for utt, matrix in tqdm(matrices.items(), desc=f"decode {Path(graph_dir).name}", disable=len(matrices) < 20):
        num_frames += matrix.shape[0]
        best = decode_best(graph, matrix, opts, utt=f"{scores}[{utt}]")
        hyps[utt] = best.words if best else []
        if best is None or best.partial:
            failed.append(utt)
        if nbest_out is not None:
            for rank, hyp in enumerate(decode_nbest(graph, matrix, opts, utt=f"{scores}[{utt}]"), start=1):
                nbest_lines.append(f"{utt}-{rank} {hyp.cost:.4f} {' '.join(hyp.words)}")
    write_text_atomic(hyp_out, "".join(f"{u} {' '.join(w)}\n".replace(" \n", "\n") for u, w in hyps.items()))
    if nbest_out is not None:
        write_text_atomic(nbest_out, "\n".join(nbest_lines) + "\n")
    seconds = time.time() - t0
    write_json_atomic(
        Path(hyp_out).with_suffix(".decode.json"),
        {
            "graph": str(graph_dir),
            "graph_hash": file_sha256(Path(graph_dir) / GRAPH_FILES[graph.kind]),
            "scores": str(scores),
            "scores_hash": file_sha256(scores),
            "options": asdict(opts),
            "num_utts": len(hyps),
            "search_failures": len(failed),  # no final state reached: the best partial path (or nothing) was written
            "failed": failed,
            "seconds": round(seconds, 3),
            "real_time_factor_at_100fps": round(seconds / max(num_frames / 100.0, 1e-9), 5),
        },
    )
    if failed:
        log.warning("%d of %d utterance(s) reached no final state (%s hypothesis written): %s", len(failed), len(hyps),
                    "best partial" if opts.allow_partial else "empty", failed[:5])
    return hyps
