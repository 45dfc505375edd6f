"""What a screenshot shows, in numbers a test can assert: colours, and ink (text) drawn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage


@dataclass(frozen=True)
class ImageContent:
    """Colour statistics of an image."""

    width: int
    height: int
    colours: int  # distinct colours
    dominant: float  # share of the most common colour (1.0 = a uniform image)
    dark: float  # share of dark pixels (text, glyph outlines on the light theme)

    def assert_drawn(self, min_colours: int = 32, max_dominant: float = 0.95) -> None:
        """The image is a drawn screen, not a blank or single-colour one."""
        assert self.colours >= min_colours, f"only {self.colours} colours: nothing drawn"
        assert self.dominant <= max_dominant, f"{self.dominant:.1%} one colour: nearly blank"


def content(image: QImage | Path | str) -> ImageContent:
    """Colour statistics of ``image`` (a QImage or a PNG file)."""
    img = image if isinstance(image, QImage) else QImage(str(image))
    assert not img.isNull(), f"cannot read image {image}"
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    raw = np.frombuffer(img.constBits(), dtype=np.uint32, count=h * img.bytesPerLine() // 4)
    px = raw.reshape(h, img.bytesPerLine() // 4)[:, :w].ravel() & 0xFFFFFF
    _values, counts = np.unique(px, return_counts=True)
    r, g, b = (px >> 16) & 0xFF, (px >> 8) & 0xFF, px & 0xFF
    light = (np.maximum(np.maximum(r, g), b).astype(np.int32) + np.minimum(np.minimum(r, g), b)) / 2
    return ImageContent(
        w,
        h,
        int(len(counts)),
        float(counts.max() / px.size),
        float(np.count_nonzero(light < 80) / px.size),
    )
