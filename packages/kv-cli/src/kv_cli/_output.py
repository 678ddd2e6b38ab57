"""What the commands write: values as JSON, and to a terminal only what is harmless.

A stored value can hold escape sequences that clear the screen, retitle the window, or
worse; printed to a terminal, the terminal runs them. So, as curl and httpie do, values go
to a terminal only if they are text: valid UTF-8 without control characters other than tab,
newline and carriage return. To a pipe or a file the exact bytes are written.
"""

from __future__ import annotations

import base64
import re

__all__ = ["encode_value", "is_printable_text", "shown_on_terminal"]

# C0 controls but tab, newline and carriage return; DEL; C1 controls (U+0080-U+009F, which
# some terminals obey as escapes too).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def is_printable_text(value: bytes) -> bool:
    """Whether *value* is UTF-8 text that is safe to show on a terminal as it is."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROLS.search(text) is None


# Everything that breaks one line of output: every control character, tab and newline too.
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def shown_on_terminal(text: str) -> str:
    """*text* as one harmless line: control characters written as ``\\xNN``.

    Text without any is returned as it is; text with some also has its backslashes doubled,
    so the escaped form cannot be mistaken for another key.
    """
    if _LINE_CONTROLS.search(text) is None:
        return text
    return _LINE_CONTROLS.sub(_escape, text.replace("\\", "\\\\"))


def encode_value(value: bytes) -> dict[str, str]:
    """A value for JSON: text as text, anything else as base64."""
    try:
        return {"encoding": "utf-8", "value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "value": base64.b64encode(value).decode("ascii")}
