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
      - A redirect to another origin (scheme, host or port), or without a C(Location), is not followed and fails
        the call, naming the status and where it points, so that the API key is never sent to an address other
        than this one; set O(url) to the address that answers directly. A redirect within the origin is followed,
        at most 5 in a row (C(301), C(302) and C(303) for reads only; C(307) and C(308) keep the method and body).
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
      - Extra attempts of a call after a connection failure (refused, reset, timeout) or an HTTP 429 or 5xx
        answer. A 429's C(Retry-After) is honoured up to 30 seconds. Other answers are not retried.
      - Creating a credential (a C(POST)) is sent again right away only when it cannot have reached n8n (connection
        refused, host name not resolved, HTTP 429). After a timeout, a reset or a 5xx it may have been created, so
        the credentials are listed first; one of its name and type found there is used instead of creating another.
    type: int
    default: 3
  delay:
    description:
      - Seconds between attempts.
    type: float
    default: 1
'''
