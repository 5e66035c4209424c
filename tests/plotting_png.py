"""What the plotting tests check of a saved figure: the file decodes, whole, as a PNG.

Imported by tests/test_plotting_*.py; Pillow (part of the plot extra) is imported when
used, so collecting this file needs no extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def decode_png(path: Path) -> Image.Image:
    """Open and fully decode ``path``; returns the PIL image, asserting it is a PNG."""
    from PIL import Image

    image = Image.open(path)
    image.load()  # raises on a truncated or corrupt PNG
    assert image.format == "PNG"
    return image
