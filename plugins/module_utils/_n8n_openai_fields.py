# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What the fields of Ollama's ``/api/generate`` and ``/api/chat`` become in OpenAI's chat completions
(phase 2, ``convert: openai_chat``). Pure logic, no I/O.

The request: ``map_body`` turns the body tree of an Ollama request (see ``_n8n_body``) into the
tree of the OpenAI request, or refuses (``Refusal``) when it cannot be done exactly. The answer:
which fields of Ollama's answer become which paths of the OpenAI answer (``ANSWER_PATHS``,
``COMMON_PATHS``) and which have no counterpart.
"""

from __future__ import annotations

import collections
import json

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_body import Arr, Key, Leaf, New, Obj


class Refusal(Exception):
    """A node cannot be converted exactly; the message says why."""

    def __init__(self, reason, parameter=None):
        super(Refusal, self).__init__(reason)
        self.reason = reason
        self.parameter = parameter


# ------------------------------------------------------------------------------------------
# The request: Ollama generate/chat request -> OpenAI chat completions request

CHAT_ROLES = ('system', 'user', 'assistant')
# Ollama options with an OpenAI parameter of the same meaning that LiteLLM hands back to Ollama.
MAPPED_OPTIONS = {'temperature': 'temperature', 'num_predict': 'max_tokens', 'top_p': 'top_p', 'stop': 'stop',
                  'seed': 'seed'}
# Server-side settings (resources, context size): no OpenAI counterpart, no effect on what is asked.
SERVER_OPTIONS = ('num_ctx', 'num_batch', 'num_gpu', 'main_gpu', 'num_thread', 'use_mmap', 'use_mlock', 'numa',
                  'low_vram')
GENERATE_KEYS = ('model', 'prompt', 'system', 'options', 'stream', 'format', 'keep_alive', 'images')
CHAT_KEYS = ('model', 'messages', 'options', 'stream', 'format', 'keep_alive')
WHY_NOT = {
    'template': 'it replaces the model\'s prompt template, which the OpenAI API cannot do',
    'raw': 'it sends the prompt without the model\'s template, which the OpenAI API cannot do',
    'context': 'it continues an earlier answer through Ollama\'s context tokens, which the OpenAI API lacks',
    'suffix': 'a fill-in-the-middle suffix has no OpenAI chat counterpart',
    'tools': 'tool calls are not converted',
    'think': 'thinking output is not converted',
    'system': 'the chat endpoint has no system field (it is a message)',
    'prompt': 'the chat endpoint has no prompt field',
    'messages': 'the generate endpoint has no messages field',
}


# The converted body's tree, the notes about it, and the model before and after the model map.
Mapped = collections.namedtuple('Mapped', 'tree notes model_before model_after')


def _describe(leaf):
    if isinstance(leaf, Leaf):
        return leaf.src if isinstance(leaf.src, str) else json.dumps(leaf.src)
    return 'an object or array'


def _string_leaf(value, what):
    if not isinstance(value, Leaf) or value.value_type not in ('string', 'value'):
        raise Refusal('%s is not a string (%s)' % (what, _describe(value)))
    return value


def _number_leaf(value, what):
    if not isinstance(value, Leaf) or value.value_type not in ('number', 'value'):
        raise Refusal('%s is not a number (%s)' % (what, _describe(value)))
    return value


def map_model(tree, ctx):
    leaf = tree.get('model')
    if leaf is None:
        raise Refusal('the body has no model')
    if not isinstance(leaf, Leaf) or leaf.value_type not in ('string', 'value'):
        raise Refusal('model is not a string (%s)' % _describe(leaf))
    if not ctx.model_map:
        return leaf, (leaf.static if leaf.known else _describe(leaf)), None
    if not leaf.known:
        raise Refusal('model is computed at run time (%s), so model_map cannot be applied' % _describe(leaf))
    new = ctx.map_model(leaf.static)
    if new is None:
        raise Refusal('the model %r is not in model_map' % leaf.static)
    if new == leaf.static:
        return leaf, leaf.static, new
    return New(new), leaf.static, new


def _messages_from_chat(tree):
    messages = tree.get('messages')
    if messages is None:
        raise Refusal('the chat body has no messages')
    if not isinstance(messages, Arr):
        raise Refusal('messages is computed at run time (%s); its messages cannot be checked' % _describe(messages))
    if not messages.items:
        raise Refusal('messages is empty')
    out = []
    for index, message in enumerate(messages.items):
        if not isinstance(message, Obj):
            raise Refusal('messages[%d] is not a plain object (%s)' % (index, _describe(message)))
        pairs = []
        for key, value in message.pairs:
            if key.name == 'images':
                if isinstance(value, Arr) and not value.items:
                    continue          # an empty list sends nothing
                raise Refusal('images cannot be converted (messages[%d] carries images)' % index)
            if key.name not in ('role', 'content'):
                raise Refusal('messages[%d] has the field %s, which is not converted' % (index, key.name))
            pairs.append((key, value))
        role = message.get('role')
        if not isinstance(role, Leaf) or not role.known or role.static not in CHAT_ROLES:
            raise Refusal('messages[%d] has the role %s; only the literal roles %s are converted'
                          % (index, _describe(role) if role is not None else '(none)', ', '.join(CHAT_ROLES)))
        if message.get('content') is None:
            raise Refusal('messages[%d] has no content' % index)
        _string_leaf(message.get('content'), 'messages[%d].content' % index)
        out.append(Obj(pairs))
    return Arr(out)


def _messages_from_generate(tree):
    images = tree.get('images')
    if images is not None and not (isinstance(images, Arr) and not images.items):
        raise Refusal('images cannot be converted (the body carries images)')
    prompt = tree.get('prompt')
    if prompt is None:
        raise Refusal('the body has no prompt (Ollama then only loads the model)')
    _string_leaf(prompt, 'prompt')
    if prompt.known and prompt.static == '':
        raise Refusal('the prompt is empty (Ollama then only loads the model)')
    messages = []
    system = tree.get('system')
    if system is not None:
        if not isinstance(system, Leaf) or system.value_type != 'string':
            raise Refusal('system is not always a string (%s): an empty system message would be sent where '
                          'Ollama used none' % _describe(system))
        if not (system.known and system.static == ''):
            messages.append(Obj([(Key('role'), New('system')), (Key('content'), system)]))
    messages.append(Obj([(Key('role'), New('user')), (Key('content'), prompt)]))
    return Arr(messages)


def _map_options(options, notes):
    if options is None:
        return []
    if not isinstance(options, Obj):
        raise Refusal('options is computed at run time (%s); its settings cannot be checked' % _describe(options))
    pairs = []
    for key, value in options.pairs:
        name = key.name
        if name in SERVER_OPTIONS:
            notes.append('dropped options.%s: a server-side setting of Ollama with no OpenAI counterpart (set it '
                         'in the LiteLLM model config if it matters)' % name)
            continue
        if name not in MAPPED_OPTIONS:
            raise Refusal('options.%s has no OpenAI counterpart that LiteLLM passes on to Ollama' % name)
        what = 'options.%s' % name
        if name == 'stop':
            if isinstance(value, Arr):
                for item in value.items:
                    _string_leaf(item, what)
            else:
                _string_leaf(value, what)
        else:
            _number_leaf(value, what)
            if name == 'num_predict' and value.known:
                if value.static < 0:
                    notes.append('dropped options.num_predict = %s (no limit): no max_tokens is sent' % value.src)
                    continue
                if value.static == 0:
                    raise Refusal('options.num_predict is 0')
        pairs.append((Key(MAPPED_OPTIONS[name]), value))
    return pairs


def map_body(tree, endpoint, ctx):
    """The OpenAI request for a request to the Ollama ``endpoint`` (generate, chat); raises Refusal."""
    if not isinstance(tree, Obj):
        raise Refusal('the body is not a JSON object')
    allowed = GENERATE_KEYS if endpoint == 'generate' else CHAT_KEYS
    for name in tree.names():
        if name not in allowed:
            raise Refusal('the body has %s: %s' % (name, WHY_NOT.get(name, 'an unknown field, not converted')))
    notes = []
    # What can never be converted is reported before what model_map could fix.
    messages = _messages_from_generate(tree) if endpoint == 'generate' else _messages_from_chat(tree)
    model, model_before, model_after = map_model(tree, ctx)
    pairs = [(tree.key('model'), model), (Key('messages'), messages)]
    pairs.extend(_map_options(tree.get('options'), notes))
    fmt = tree.get('format')
    if fmt is not None:
        if not (isinstance(fmt, Leaf) and fmt.known and fmt.static == 'json'):
            raise Refusal('format %s is not converted (only "json" is)' % _describe(fmt))
        pairs.append((Key('response_format'), Obj([(Key('type'), New('json_object'))])))
    stream = tree.get('stream')
    if stream is None:
        notes.append('stream was not set (Ollama then streams); the converted request sets stream: false, so n8n '
                     'gets one JSON answer')
        pairs.append((Key('stream'), New(False)))
    elif isinstance(stream, Leaf) and stream.value_type == 'bool' and stream.static is False:
        pairs.append((tree.key('stream'), stream))
    elif isinstance(stream, Leaf) and stream.value_type == 'value':
        pairs.append((tree.key('stream'), stream))
    elif isinstance(stream, Leaf) and stream.value_type == 'bool':
        raise Refusal('stream is true: n8n reads Ollama\'s streamed lines, LiteLLM would stream events instead')
    else:
        raise Refusal('stream is not a boolean (%s)' % _describe(stream))
    if tree.get('keep_alive') is not None:
        notes.append('dropped keep_alive: a server-side setting of Ollama (how long the model stays loaded)')
    return Mapped(Obj(pairs), notes, model_before, model_after)


# ------------------------------------------------------------------------------------------
# The answer

# Fields of Ollama's answer and what reads of them become (paths after the ``json`` of an accessor).
ANSWER_PATHS = {
    'generate': {'response': ('choices', 0, 'message', 'content')},
    'chat': {},
}
COMMON_PATHS = {
    'done_reason': ('choices', 0, 'finish_reason'),
    'prompt_eval_count': ('usage', 'prompt_tokens'),
    'eval_count': ('usage', 'completion_tokens'),
}
NO_COUNTERPART = ('done', 'context', 'created_at', 'total_duration', 'load_duration', 'prompt_eval_duration',
                  'eval_duration', 'thinking')


def watched_fields(endpoint):
    """Answer fields whose reads must all be understood before the answer's shape changes."""
    own = ('response',) if endpoint == 'generate' else ('message',)
    return own + tuple(COMMON_PATHS) + NO_COUNTERPART
