"""The link-preview image of an event (``og:image``): 1200 × 630 PNG with the title, the date,
the place and the network's name, drawn with Pillow.

Images are cached in memory by what they show: a changed title, time or place is another key,
so the next request draws the new image, and an unchanged event is drawn once.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections import OrderedDict
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported when an image is drawn, not by every process
    from PIL import ImageDraw, ImageFont

    Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
BACKGROUND = (23, 63, 95)
ACCENT = (246, 174, 45)
TEXT = (255, 255, 255)
MUTED = (205, 220, 232)
CANCELLED = (214, 69, 65)
# DejaVu when the system has it (Debian's fonts-dejavu-core); otherwise Pillow's own font.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))


@dataclass(frozen=True)
class PreviewText:
    title: str
    when: str
    place: str
    network: str
    cancelled_label: str | None = None  # "Cancelled", in the page's language, when it is

    def key(self) -> str:
        return hashlib.sha256("\x00".join(map(str, astuple(self))).encode()).hexdigest()


@functools.cache
def _font(size: int, *, bold: bool) -> Font:
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int, lines: int) -> list[str]:
    """At most ``lines`` lines no wider than ``width``; an ellipsis ends what did not fit."""
    words = " ".join(text.split()).split(" ")
    result: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            current = candidate
            continue
        if current:
            result.append(current)
        current = word
        while draw.textlength(current, font=font) > width:  # one very long word
            cut = len(current)
            while cut > 1 and draw.textlength(current[:cut], font=font) > width:
                cut -= 1
            result.append(current[:cut])
            current = current[cut:]
    if current:
        result.append(current)
    if len(result) > lines:
        result = result[:lines]
        last = result[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        result[-1] = last.rstrip() + "…"
    return result


def render(text: PreviewText) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    inner = WIDTH - 2 * MARGIN
    draw.rectangle((0, 0, WIDTH, 14), fill=ACCENT)
    y = MARGIN
    network_font = _font(34, bold=True)
    draw.text((MARGIN, y), text.network, font=network_font, fill=ACCENT)
    y += 70
    if text.cancelled_label:
        label_font = _font(36, bold=True)
        label_width = draw.textlength(text.cancelled_label, font=label_font)
        draw.rectangle((MARGIN, y, MARGIN + label_width + 32, y + 56), fill=CANCELLED)
        draw.text((MARGIN + 16, y + 8), text.cancelled_label, font=label_font, fill=TEXT)
        y += 76
    title_font = _font(64 if len(text.title) < 60 else 54, bold=True)
    for line in _wrap(draw, text.title, title_font, inner, 3 if not text.cancelled_label else 2):
        draw.text((MARGIN, y), line, font=title_font, fill=TEXT)
        y += int(title_font.size * 1.2) if isinstance(title_font, ImageFont.FreeTypeFont) else 70
    detail_font = _font(36, bold=False)
    y = max(y + 24, HEIGHT - MARGIN - 2 * 52)
    for detail in (text.when, text.place):
        if detail:
            line = _wrap(draw, detail, detail_font, inner, 1)[0]
            draw.text((MARGIN, y), line, font=detail_font, fill=MUTED)
            y += 52
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class PreviewCache:
    """The last ``size`` images drawn, by what they show."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self.drawn = 0

    def get(self, text: PreviewText) -> bytes | None:
        key = text.key()
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def put(self, text: PreviewText, image: bytes) -> None:
        self.drawn += 1
        self._images[text.key()] = image
        while len(self._images) > self.size:
            self._images.popitem(last=False)
