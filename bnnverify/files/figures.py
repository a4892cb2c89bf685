"""Pictures of robustness answers: the input, the counterexample and their difference, side by side.

Drawn with matplotlib (Agg, no display) from the model's declared image
layout (``input_shape``/``input_layout``), written atomically in the format
the file's extension names (png, pdf, svg). Grey images use a grey colour map
over the declared feature range; the difference uses a diverging map centred
on 0, so a brighter pixel is red and a darker one blue.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["witness_figure"]

#: Resolution of the saved figure (dots per inch); three 2.6-inch panels.
FIGURE_DPI = 120
PANEL_INCHES = 2.6


def witness_figure(net: Any, x: np.ndarray, w: np.ndarray | None, pred: int, wc: int | None,
                   path: "str | os.PathLike[str]") -> Path:
    """Write the picture of ``x`` (class ``pred``) and, if any, the counterexample ``w`` (class ``wc``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnnverify.files.inputs import image_of
    from bnnverify.information.infoplane import _save_figure, plot_format

    fmt = plot_format(path)
    lo = int(net.inputs.lo.min()) if net.inputs is not None else 0
    hi = int(net.inputs.hi.max()) if net.inputs is not None else 1
    panels = [("input: class %d" % pred, image_of(net, x), "grey")]
    if w is not None:
        d = np.asarray(w, dtype=np.int64) - np.asarray(x, dtype=np.int64)
        linf = int(np.abs(d).max(initial=0))
        l0 = int((d != 0).sum())
        panels.append(("counterexample: class %d" % wc, image_of(net, w), "grey"))
        panels.append((f"difference (L∞ {linf}, L0 {l0})", image_of(net, d), "diff"))
    fig, axes = plt.subplots(1, len(panels), figsize=(PANEL_INCHES * len(panels), PANEL_INCHES + 0.4))
    axes = np.atleast_1d(axes)
    for ax, (title, img, kind) in zip(axes, panels):
        if kind == "diff":
            m = max(1, int(np.abs(img).max(initial=0)))
            shown = img if img.ndim == 2 else img.mean(axis=-1)
            im = ax.imshow(shown, cmap="coolwarm", vmin=-m, vmax=m, interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046)
        elif img.ndim == 3:
            ax.imshow(np.clip((img - lo) / max(1, hi - lo), 0, 1), interpolation="nearest")
        else:
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return _save_figure(fig, path, fmt, FIGURE_DPI)
