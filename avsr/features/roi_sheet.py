"""Contact sheets of stored mouth crops, for a person to check the visual front-end."""
from __future__ import annotations

from pathlib import Path
from typing import Union

from lhotse import CutSet

from avsr.features.store import VIDEO_FRAME_SHIFT
from avsr.video.contact_sheet import write_contact_sheet



def roi_contact_sheet(cuts: CutSet, out_png: Union[str, Path], max_clips: int = 6, frames_per_clip: int = 12) -> Path:
    """One row per speaker (first clip of each): crops at phone centres, labelled with the phone,
    when the supervision has a phone alignment; otherwise every few frames, labelled with the
    frame index and the word said then."""
    images, labels, seen = [], [], set()
    for cut in cuts:
        speaker = cut.supervisions[0].speaker
        if speaker in seen or "mouth_roi" not in (cut.custom or {}):
            continue
        seen.add(speaker)
        crops = cut.load_mouth_roi()
        phones = (cut.supervisions[0].alignment or {}).get("phone")
        if phones:
            picks = [
                (min(len(crops) - 1, int((p.start + p.duration / 2) / VIDEO_FRAME_SHIFT)), p.symbol)
                for p in phones
                if p.duration >= VIDEO_FRAME_SHIFT
            ][:frames_per_clip]
        else:  # every few frames, labelled with the word being said (GRID has word timings only)
            words = (cut.supervisions[0].alignment or {}).get("word", [])
            step = max(1, len(crops) // frames_per_clip)
            picks = []
            for i in range(0, len(crops), step):
                t = (i + 0.5) * VIDEO_FRAME_SHIFT
                said = next((w.symbol for w in words if w.start <= t < w.start + w.duration), "-")
                picks.append((i, f"f{i} {said}"))
            picks = picks[:frames_per_clip]
        for index, name in picks:
            images.append(crops[index])
            labels.append(f"{speaker} {name}")
        if len(seen) == max_clips:
            break
    return write_contact_sheet(images, labels, out_png, num_cols=frames_per_clip, cell_size=88,
                               title="mouth ROI crops (one row per speaker)")
