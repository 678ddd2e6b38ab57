"""Reading the ``exp_time`` argument into the expiry arguments of SET and GETEX."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

__all__ = ["ExpTime", "expiry_args"]

ExpTime = int | float | timedelta

# Redis keeps expiry times as milliseconds in a signed 64-bit integer, added to the clock.
_MAX_MS = 2**62


def expiry_args(exp_time: Any) -> tuple[str, int] | tuple[()]:
    """``("EX", seconds)`` or ``("PX", milliseconds)`` for *exp_time*; ``()`` for ``None``.

    Whole seconds use ``EX``; a fraction of a second uses ``PX``, rounded to the millisecond.

    :raises TypeError: *exp_time* is not a number of seconds or a ``timedelta``.
    :raises ValueError: *exp_time* is zero, negative, NaN, infinite, under a millisecond or
        beyond what Redis can hold.
    """
    if exp_time is None:
        return ()
    if isinstance(exp_time, bool) or not isinstance(exp_time, int | float | timedelta):
        msg = f"exp_time must be seconds (int or float) or a timedelta, not {exp_time!r}"
        raise TypeError(msg)
    seconds = exp_time.total_seconds() if isinstance(exp_time, timedelta) else exp_time
    if not math.isfinite(seconds) or seconds <= 0:
        msg = f"exp_time must be a positive number of seconds, not {exp_time!r}"
        raise ValueError(msg)
    if isinstance(seconds, int):
        if seconds * 1000 > _MAX_MS:
            msg = f"exp_time {exp_time!r} is longer than Redis can hold"
            raise ValueError(msg)
        return ("EX", seconds)
    millis = round(seconds * 1000)
    if millis < 1:
        msg = f"exp_time must be at least a millisecond, not {exp_time!r}"
        raise ValueError(msg)
    if millis > _MAX_MS:
        msg = f"exp_time {exp_time!r} is longer than Redis can hold"
        raise ValueError(msg)
    if millis % 1000 == 0:
        return ("EX", millis // 1000)
    return ("PX", millis)
