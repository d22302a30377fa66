"""Issue 17, item 22: tracebacks in the log are redacted like messages: no secret, and no
exception message (it may quote what a person typed or their address)."""

from __future__ import annotations

import io
import logging

from samvirke.logs import WITHHELD, SafeFormatter

TOKEN = "999000:SECRET-TOKEN-abc"
ADDRESS = "søren.ærø@example.dk"


def _parse(text: str) -> int:
    return int(text)


def _lookup(address: str) -> None:
    try:
        _parse(address)
    except ValueError as error:
        raise LookupError(f"no member {address} with token {TOKEN}") from error


def test_tracebacks_keep_frames_and_types_but_not_messages_or_secrets() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s", secrets=[TOKEN]))
    logger = logging.getLogger("samvirke.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            _lookup(ADDRESS)
        except LookupError:
            logger.exception("error while handling update %s with %s", 7, TOKEN)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    text = out.getvalue()
    assert ADDRESS not in text
    assert TOKEN not in text
    assert "error while handling update 7 with [redacted]" in text
    assert "in _parse" in text  # where it happened is kept
    assert "in _lookup" in text
    assert f"builtins.ValueError: {WITHHELD}" in text
    assert f"builtins.LookupError: {WITHHELD}" in text
