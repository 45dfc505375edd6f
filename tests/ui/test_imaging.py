"""The screenshot content check itself can fail: a blank image is not a drawn screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter

from tests.ui.imaging import content


def test_a_uniform_image_is_not_drawn(hmi_app):
    img = QImage(200, 100, QImage.Format.Format_RGB32)
    img.fill(QColor("#f0f0f0"))
    c = content(img)
    assert c.colours == 1
    assert c.dark == 0.0
    with pytest.raises(AssertionError, match="nothing drawn"):
        c.assert_drawn()


def test_text_on_an_image_counts_as_drawn(hmi_app):
    img = QImage(160, 20, QImage.Format.Format_RGB32)
    img.fill(QColor("#f0f0f0"))
    p = QPainter(img)
    p.setPen(QColor("#000000"))
    p.drawText(img.rect(), Qt.AlignmentFlag.AlignCenter, "Outlet pressure 0.40 MPa")
    p.end()
    c = content(img)
    assert c.dark > 0.001
    c.assert_drawn(min_colours=8)
