# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The one source of the routes each phase moves n8n's Ollama calls between (pure).

* Phase 1: the public Ollama URL (``https://llm.<domain>``) becomes the internal nginx route.
* Phase 2: Ollama calls, public or phase 1's internal route, become OpenAI chat completions on LiteLLM, request
  bodies and the nodes reading the answer converted. A public call that cannot be converted goes to the internal
  route instead (the public URL is behind a key in phase 2); the internal route's rules leave it there.
* ``back``: phase 1 the other way round, for what restore.yml carries into the original n8n (a call to LiteLLM has
  no way back; the caller names it).
"""

from __future__ import annotations

OLLAMA_PATHS = ('/api/generate', '/api/chat')
PHASES = (1, 2, 'back')


def routes(phase, domain, nginx, litellm_url=None):
    """The rewrite rules (``from``, ``to``, and in phase 2 ``convert`` and ``fallback``) of ``phase``."""
    public = 'https://llm.%s' % domain
    internal = 'http://%s' % nginx
    if phase == 'back':
        return [{'from': internal + path, 'to': public + path} for path in OLLAMA_PATHS]
    if str(phase) == '1':
        return [{'from': public + path, 'to': internal + path} for path in OLLAMA_PATHS]
    if str(phase) == '2':
        if not litellm_url:
            raise ValueError('phase 2 routes need LiteLLM\'s URL')
        return ([{'from': public + path, 'to': litellm_url, 'convert': 'openai_chat', 'fallback': internal + path}
                 for path in OLLAMA_PATHS]
                + [{'from': internal + path, 'to': litellm_url, 'convert': 'openai_chat'} for path in OLLAMA_PATHS])
    raise ValueError('no routes for phase %r (one of 1, 2, back)' % (phase,))
