# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""The n8n releases the collection supports, and the one rule that says whether a release is one of them.

Tested: 1.123.81 (``make test-n8n-releases``) and 2.41.1 (every tier). Phase 1 (workflows moved and restored
through the public API's workflow calls) works from 1.123 on; 1.x has no archive call and no draft apart from the
published version, so those cases do not arise there. Its public API cannot list credentials (405), which phase 2's
credential and ``credential_moves`` need: those need 2.0 or later."""

from __future__ import annotations

import re

# (first, last) (major, minor) of each supported line, both included.
SUPPORTED = (((1, 123), (1, 123)), ((2, 0), (2, 41)))
RANGE_TEXT = '1.123.x and 2.0.0 to 2.41.x'
# The first release whose public API lists credentials (phase 2, credential moves).
CREDENTIALS_FROM = (2, 0)
_VERSION = re.compile(r'(?:^|[^0-9.])v?(\d+)\.(\d+)\.(\d+)(?:$|[^0-9.])')


def parse_version(text):
    """(major, minor, patch) of the first X.Y.Z in ``text`` (``n8n --version``'s answer, an image tag), or None."""
    found = _VERSION.search(str(text or ''))
    return tuple(int(part) for part in found.groups()) if found else None


def image_version(image):
    """The version an image reference's tag names (``n8nio/n8n:2.41.1``, ``...:2.41.1@sha256:...``), or None."""
    reference = str(image or '').split('@', 1)[0]
    name, sep, tag = reference.rpartition(':')
    if not sep or '/' in tag:
        return None
    return parse_version(tag) if re.match(r'^v?\d+\.\d+\.\d+$', tag) else None


def supported(version):
    """Whether (major, minor, patch) ``version`` is in one of the SUPPORTED lines."""
    return any(first <= tuple(version[:2]) <= last for first, last in SUPPORTED)


def version_problem(text, what, credentials=False):
    """None when ``text`` names a supported release (one whose public API lists credentials, with ``credentials``:
    phase 2 or credential moves); else why not, naming ``what`` (where the version was read), the version, the
    range and the fix."""
    version = parse_version(text)
    if version is None:
        return ('%s did not say which n8n release it is (got %r); the collection supports %s'
                % (what, str(text or '')[:80], RANGE_TEXT))
    shown = '.'.join(str(part) for part in version)
    if not supported(version):
        return ('%s is n8n %s, which the collection does not support (it supports %s): move n8n to a release in '
                'that range first (the stack pins 2.41.1)' % (what, shown, RANGE_TEXT))
    if credentials and tuple(version[:2]) < CREDENTIALS_FROM:
        return ('%s is n8n %s, whose public API cannot list credentials, which phase 2 and '
                'llm_gateway_n8n_ollama_credentials need: move n8n to 2.0 or later first (on 1.123.x the collection '
                'supports phase 1 without credential moves)' % (what, shown))
    return None
