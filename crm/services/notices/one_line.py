"""One line of text for an e-mail header or a robot message: no line breaks, no control characters.

A value that reaches an e-mail header (a subject, a name) or a line of a robot message is
folded here when the message is composed, so that a value stored before input was checked
(a factory named "Line1\\r\\nBcc: x") can neither add a header nor a line, nor stop a queue.
"""

from __future__ import annotations

import re

# C0 controls (tab, CR and LF among them), DEL, C1 controls (NEL among them), and Unicode's
# line and paragraph separators: a run of them becomes one space.
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# A lone surrogate cannot be encoded for a mail server or a robot.
_SURROGATES = re.compile("[\ud800-\udfff]")


def one_line(value: object) -> str:
    """The value as text on one line: breaks and control characters folded to a space."""
    return _BREAKS.sub(" ", _SURROGATES.sub("\ufffd", str(value)))
