# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection options of the collection's LiteLLM modules (the proxy's admin API)."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - LiteLLM's base URL as seen from where the requests are sent, without a path, for example
        V(http://llama-litellm:4000) (with O(container)) or V(http://127.0.0.1:4000).
    type: str
    required: true
  master_key:
    description:
      - The proxy's master key (its C(LITELLM_MASTER_KEY)). Not logged.
    type: str
    required: true
  container:
    description:
      - The name of a running container with C(curl) (for example C(llama-nginx)) to send the requests from,
        for a LiteLLM that only the stack's Docker network reaches. The task must run on the Docker host.
        The master key reaches C(curl) on its standard input, never on a command line.
    type: str
  validate_certs:
    description:
      - Verify the proxy's TLS certificate when O(url) is C(https).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 30
  retries:
    description:
      - Extra attempts after a connection failure or an HTTP 5xx/429 (a proxy that is still starting).
    type: int
    default: 3
  delay:
    description:
      - Seconds between attempts.
    type: float
    default: 2
'''
