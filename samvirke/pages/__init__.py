"""The public event pages: ``GET /events`` (upcoming, ``?region=<code>``), ``/events/<id>``,
``/events/<id>.ics`` and the link-preview image ``/events/<id>.png``."""

from samvirke.pages.routes import add_routes, bot_username
from storage.events.public import page_link

__all__ = ["add_routes", "bot_username", "page_link"]
