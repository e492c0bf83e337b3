# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""Times as the services write them, read once: RFC 3339 (Docker's nanoseconds, n8n's milliseconds, any offset) and
the play's folder names (``20261207T200819Z``)."""

from __future__ import annotations

import calendar
import re

_RFC3339 = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$')
_STAMP = re.compile(r'^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)()(Z)$')


def epoch_seconds(text):
    """Seconds since the epoch (UTC) of an RFC 3339 time or a folder stamp; None when ``text`` is neither."""
    found = _RFC3339.match(str(text or '')) or _STAMP.match(str(text or ''))
    if not found:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    fraction = float('0.' + found.group(7)) if found.group(7) else 0.0
    zone = found.group(8)
    offset = 0 if zone == 'Z' else (1 if zone[0] == '+' else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second))
    except ValueError:  # no such month (calendar checks months, not days)
        return None
    return seconds + fraction - offset
