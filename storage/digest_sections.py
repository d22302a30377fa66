"""What a digest says. Each section is registered with ``digests.section``."""

from __future__ import annotations
