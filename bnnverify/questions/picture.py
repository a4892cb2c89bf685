"""Pictures of explanations for image-shaped inputs (matplotlib, written atomically).

Inputs of n = s·s bits are drawn as s×s images: 8×8 for scikit-learn's
digits, 10×10 and 28×28 for BNNQuanalyst's inputs. A set of kept bits (a
sufficient reason, a prime implicant) is drawn as its pixels' values (white
= 1, black = 0) over a grey background; a contrastive reason as the input
with the changed pixels in red; Shapley values as a diverging heat map.
"""

from __future__ import annotations

from math import isqrt
from typing import Mapping, Sequence

import numpy as np

from bnnverify.errors import DataError

__all__ = ["image_side", "kept_image", "write_png"]

#: The grey of pixels a reason leaves out (0 = black, 1 = white).
BACKGROUND_GREY = 0.5


def image_side(n: int) -> int:
    """The side of the square image of ``n`` bits, or a :class:`DataError` if ``n`` is not a square."""
    s = isqrt(n)
    if s * s != n:
        raise DataError(f"png: {n} input bits are not a square image (8x8, 10x10, 28x28, ...)", param="png")
    return s


def kept_image(x: np.ndarray, kept: Mapping[int, int] | Sequence[int]) -> np.ndarray:
    """Grey everywhere, the kept bits' values (of ``x``, or of the term) where kept."""
    n = len(x)
    img = np.full(n, BACKGROUND_GREY)
    if isinstance(kept, Mapping):
        for i, b in kept.items():
            img[i] = float(b)
    else:
        for i in kept:
            img[i] = float(x[i])
    return img


def write_png(path: str, panels: Sequence[tuple[str, np.ndarray, str]]) -> None:
    """Write side-by-side panels ``(title, values over n bits, kind)``; kind ``grey``, ``changed`` or ``heat``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnnverify.files.atomic import atomic_write

    side = image_side(len(panels[0][1]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2), squeeze=False)
    for ax, (title, values, kind) in zip(axes[0], panels):
        v = np.asarray(values, dtype=float).reshape(side, side)
        if kind == "heat":
            lim = float(np.abs(v).max()) or 1.0
            im = ax.imshow(v, cmap="coolwarm", vmin=-lim, vmax=lim)
            fig.colorbar(im, ax=ax, fraction=0.046)
        elif kind == "changed":
            rgb = np.stack([v.clip(0, 1)] * 3, axis=-1)
            rgb[v > 1] = (1.0, 0.0, 0.0)  # changed pixels are passed as 2
            ax.imshow(rgb)
        else:
            ax.imshow(v, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
