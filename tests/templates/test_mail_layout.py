"""The invitation and the digest in a real browser engine (headless Chromium), at a phone's
width (375 px) and a laptop's (1280 px): long words and links wrap inside the card instead of
making the mail scroll sideways or sticking out. Skipped, saying why, without Chromium (CI
installs it: ``apt-get install -y chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import escape, unescape
from pathlib import Path
from typing import Any

import pytest

from scheduler.mail.compose import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)"
)

LONG_LINK = "https://meet.example.org/j/" + "8271635490" * 6 + "?pwd=" + "aB3dE5gH7j" * 5
LONG_WORD = "Socialøkonomiskvirksomhedspartnerskabsudviklingsworkshoppen" * 2
# Chromium's window is at least 500 px wide: the mail is shown in a frame of the width asked
# for (a srcdoc frame belongs to the page, so the page can measure inside it).
PAGE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="mail" style="width:{width}px;height:1600px;border:0" srcdoc="{srcdoc}"></iframe>
<script>
window.addEventListener("load", () => {{
  const doc = document.getElementById("mail").contentDocument;
  const card = doc.querySelector("body > div");
  const box = card.getBoundingClientRect();
  const outside = [...card.querySelectorAll("*")]
    .filter((e) => e.getBoundingClientRect().right > box.right + 0.5)
    .map((e) => e.tagName + ": " + e.textContent.slice(0, 40));
  const result = {{
    page: doc.documentElement.scrollWidth, viewport: doc.documentElement.clientWidth,
    card: card.scrollWidth, cardClient: card.clientWidth, outside: outside,
    links: [...doc.querySelectorAll("a")].map((a) => a.getAttribute("href")),
  }};
  document.body.setAttribute("data-measure", JSON.stringify(result));
}});
</script></body></html>"""


def in_chromium(html: str, width: int, folder: Path, name: str) -> dict[str, Any]:
    """Show ``html`` at ``width`` px; the layout as measured inside it (and a screenshot next
    to it, to look at)."""
    page = folder / f"{name}-{width}.html"
    page.write_text(PAGE.format(width=width, srcdoc=escape(html, quote=True)), encoding="utf-8")
    common = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    size = f"--window-size={max(width, 500)},1600"
    subprocess.run(
        [*common, size, f"--screenshot={folder / f'{name}-{width}.png'}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    dom = subprocess.run(
        [*common, size, "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r"data-measure=\"([^\"]*)\"", dom)
    assert found, dom[:500]
    return dict(json.loads(unescape(found.group(1))))


INVITE = {
    "name": "Karen Ærø",
    "kind": "going",
    "title": "Workshop: " + LONG_WORD,
    "when": "torsdag den 20. februar 2027, 13:00–17:00",
    "location": "Teknologisk Institut, Kongsvang Allé 29, 8000 Aarhus C",
    "online_url": LONG_LINK,
    "description": "Program: " + LONG_WORD + "\nSe " + LONG_LINK,
    "url": "https://t.me/samvirke_bot?start=event_1",
    "changes": [],
}
DIGEST = {
    "name": "Karen Ærø",
    "frequency": "weekly",
    "period": "2026-W48",
    "sections": {
        "events": [
            {
                "title": LONG_WORD,
                "when": "torsdag den 20. februar 2027, 13:00–17:00",
                "place": "",
                "online_url": LONG_LINK,
                "new": "Nyt",
                "status": "",
                "link": "https://t.me/samvirke_bot?start=event_1",
            }
        ],
        "listings": [{"kind": "Tilbud", "title": LONG_WORD, "region": "Region Midtjylland"}],
    },
    "unsubscribe_url": "https://samvirke.example/unsubscribe/1." + "a" * 43,
}


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize(("template", "context"), [("invite", INVITE), ("digest", DIGEST)])
def test_long_words_and_links_wrap_inside_the_card(
    template: str, context: dict[str, Any], width: int, tmp_path: Path
) -> None:
    html = render(template, "da", context).html
    layout = in_chromium(html, width, tmp_path, template)
    assert layout["viewport"] == width
    assert layout["page"] <= layout["viewport"]  # no sideways scrolling
    assert layout["card"] <= layout["cardClient"]  # nothing sticks out of the card
    assert layout["outside"] == []
    assert LONG_LINK in layout["links"]  # the online meeting's link is a link, in both
