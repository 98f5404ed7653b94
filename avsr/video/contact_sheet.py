"""Contact sheets: a labelled PNG grid of images (mouth crops, frames) for a person to inspect."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np

from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


def _to_uint8(image: np.ndarray, color: bool = False) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and not color:  # RGB -> gray, so crops and frames share one sheet
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif image.ndim == 2 and color:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def write_contact_sheet(
    images: Union[Sequence[np.ndarray], np.ndarray],
    labels: Optional[Sequence[str]],
    out_png: PathLike,
    num_cols: int = 10,
    cell_size: int = 132,
    title: Optional[str] = None,
    color: bool = False,
) -> Path:
    """Write ``images`` (gray [H, W] / RGB [H, W, 3], or a stacked array [N, H, W]) as a grid PNG.

    Each image is scaled to fit a ``cell_size`` square (nearest-neighbour, so small crops keep
    their pixels visible) with its label written underneath. The sheet is gray unless ``color``
    (then RGB images keep their colours, e.g. boxes drawn over frames). Written atomically;
    returns the path.
    """
    images = [_to_uint8(im, color) for im in images]
    if not images:
        raise ValueError("no images for the contact sheet")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    label_height = 18 if labels is not None else 0
    # Cells are sized for the tallest image once scaled, so wide frames leave no empty band.
    cell_size_h = max(max(1, round(im.shape[0] * cell_size / max(im.shape))) for im in images)
    title_height = 26 if title else 0
    num_cols = max(1, min(num_cols, len(images)))
    num_rows = (len(images) + num_cols - 1) // num_cols
    pad = 4
    cell_w, cell_h = cell_size + pad, cell_size_h + label_height + pad
    shape = (title_height + num_rows * cell_h + pad, num_cols * cell_w + pad) + ((3,) if color else ())
    sheet = np.full(shape, 255, np.uint8)
    if title:
        cv2.putText(sheet, title, (pad, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, image in enumerate(images):
        row, col = divmod(i, num_cols)
        scale = cell_size / max(image.shape)
        resized = cv2.resize(
            image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
            interpolation=cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA,
        )
        y0 = title_height + pad + row * cell_h
        x0 = pad + col * cell_w
        sheet[y0 : y0 + resized.shape[0], x0 : x0 + resized.shape[1]] = resized
        if labels is not None:
            cv2.putText(sheet, str(labels[i])[:22], (x0, y0 + resized.shape[0] + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    out_png = Path(out_png)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR) if color else sheet)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {out_png}")
    with atomic_path(out_png) as tmp:
        tmp.write_bytes(encoded.tobytes())
    return out_png
