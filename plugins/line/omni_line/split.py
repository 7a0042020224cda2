"""Cutting a long text into the text message objects one push accepts.

A LINE text message object holds at most 5,000 characters, counted in UTF-16
code units ("Character counting in a text": an emoji such as 🍎 counts two),
and one push carries at most 5 message objects. Pieces end at a line break,
else at whitespace, in the second half of the window, so words and paragraphs
stay whole where possible; otherwise the cut is hard, but never inside a
character. Rejecting a long reply would lose an agent's work; splitting it is
what a person would do.
"""

from typing import List, Optional

MAX_TEXT_UNITS = 5000
MAX_MESSAGES = 5


def units(text: str) -> int:
    """Length in UTF-16 code units, as LINE counts."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def pieces(text: str, max_units: int = MAX_TEXT_UNITS) -> List[str]:
    """The non-blank pieces of `text`, each at most `max_units` UTF-16 units."""
    max_units = max(max_units, 2)
    out: List[str] = []
    rest = text
    while rest:
        cut = _window_end(rest, max_units)
        if cut is None:
            _push(out, rest)
            break
        window = rest[:cut]
        half = cut // 2
        at = window.rfind("\n")
        if at < half:
            at = _last_space(window)
        if at >= half and at > 0:
            _push(out, rest[:at])
            rest = rest[at + 1:]  # drop the break the cut falls on
        else:
            _push(out, window)
            rest = rest[cut:]
    return out


def _window_end(text: str, max_units: int) -> Optional[int]:
    """The index where the first `max_units` units end; None when all fit."""
    count = 0
    for index, char in enumerate(text):
        count += 2 if ord(char) > 0xFFFF else 1
        if count > max_units:
            return index
    return None


def _last_space(window: str) -> int:
    for index in range(len(window) - 1, -1, -1):
        if window[index].isspace():
            return index
    return -1


def _push(out: List[str], piece: str) -> None:
    if piece.strip():
        out.append(piece)
