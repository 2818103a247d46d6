"""A 3D room label on a dark box (live/room3d.py): words in the person's colour over bones, the floor grid
and leader lines read only with something dark behind them. Imported once pyqtgraph's OpenGL can be
(room3d.unavailable_reason)."""

from __future__ import annotations

import pyqtgraph.opengl as gl
from PySide6 import QtCore, QtGui

LABEL_PAD_PX = 3  # the box around the words
LABEL_BOX_RGBA = (0, 0, 0, 215)


class BoxedLabel(gl.GLTextItem):
    """GLTextItem's text and alignment, drawn over a dark box framed in its own colour."""

    def paint(self) -> None:
        if not self.text:
            return
        self.setupGLState()
        anchor = self.compute_projection().map(QtGui.QVector3D(*self.pos)).toPointF()
        at = self.align_text(QtCore.QPointF(anchor))
        words = QtCore.QRectF(QtGui.QFontMetrics(self.font).tightBoundingRect(self.text)).translated(at)
        box = words.adjusted(-LABEL_PAD_PX, -LABEL_PAD_PX, LABEL_PAD_PX, LABEL_PAD_PX)
        # Within the place room3d.place_labels kept for it, from the anchor up and away from it sideways:
        # the box's descenders and padding reached below the anchor, over the head the label was put
        # above, and back past it.
        right = bool(self.alignment & QtCore.Qt.AlignmentFlag.AlignRight)
        shift = QtCore.QPointF((anchor.x() - box.right()) if right else (anchor.x() - box.left()),
                               anchor.y() - box.bottom())
        at, box = at + shift, box.translated(shift)
        painter = QtGui.QPainter(self.view())
        hint = QtGui.QPainter.RenderHint
        painter.setRenderHints(hint.Antialiasing | hint.TextAntialiasing)
        painter.setPen(QtGui.QPen(self.color, 1))
        painter.setBrush(QtGui.QColor(*LABEL_BOX_RGBA))
        painter.drawRoundedRect(box, 3, 3)
        painter.setFont(self.font)
        painter.drawText(at, self.text)
        painter.end()
