# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection options of the collection's n8n modules (public API, /api/v1)."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of n8n as seen from where the task runs, without C(/api/v1),
        for example V(http://127.0.0.1:5678) or V(https://n8n.example.com).
    type: str
    required: true
  api_key:
    description:
      - An n8n API key (n8n UI, Settings > n8n API), sent in the C(X-N8N-API-KEY) header.
      - It never appears in messages, results or diffs.
    type: str
    required: true
  validate_certs:
    description:
      - Verify n8n's TLS certificate when O(url) is C(https).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 30
  retries:
    description:
      - Extra attempts of a call after a connection failure (refused, reset) or an HTTP 429 or 5xx answer.
        A 429's C(Retry-After) is honoured up to 30 seconds. Other answers are not retried.
    type: int
    default: 3
  delay:
    description:
      - Seconds between attempts.
    type: float
    default: 1
'''
