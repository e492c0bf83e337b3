# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The ``openai_chat`` conversion of n8n_workflow_urls (phase 2). Pure logic, no I/O.

An HTTP Request node that calls Ollama's ``/api/generate`` or ``/api/chat`` and whose URL a rule
with ``convert: openai_chat`` moves to an OpenAI-compatible ``.../chat/completions`` (LiteLLM)
gets, in the same pass:

* its JSON body converted, in the shape its typeVersion stores it (v1/v2 ``bodyParametersJson``
  as a string or an object, or ``bodyParametersUi``; v3/v4 ``jsonBody`` or ``bodyParameters``);
  every value taken over is kept exactly as written, n8n expressions included;
* the n8n Header Auth credential attached (when the module is given ``auth``);
* the reads of its answer rewritten: in the nodes directly after it, ``$json.response`` (and the
  like) becomes ``$json.choices[0].message.content``; anywhere in the workflow, the same through
  a reference by name (``$('Ask Ollama').item.json.response``, ``$node["Ask Ollama"].json...``).

A node is converted completely or not at all: anything that cannot be converted exactly leaves
the node untouched (URL included), as well as the nodes that read its answer, and is reported
with the reason (or, when the rule has a fallback, only its URL moves there). The parts:
``_n8n_body`` (the body tree), ``_n8n_openai_fields`` (what the fields become),
``_n8n_openai_node`` (one node) and ``_n8n_answer_readers`` (the nodes that read its answer).
"""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_answer_readers import (
    analyze_reads, apply_edits, whole_answer_notes,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_fields import Refusal
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_node import (
    convert_node, get_value, set_path,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import Change, RuleError, path_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import main_sources

OPENAI_CHAT = 'openai_chat'          # the value of a rule's convert that names this conversion
NOT_CONVERTED = 'not_converted'      # the kind of the skipped entry of a node left unconverted


def normalize_model(name):
    """``llama3:latest`` and ``llama3`` are the same Ollama model."""
    return name[:-len(':latest')] if name.endswith(':latest') else name


class Context(object):
    """What the module tells the conversion: the model names map and the credential to attach.

    ``credential`` is ``{'id': ..., 'name': ...}`` (the id may still be None while planning) or None
    (the nodes' authentication is left as it is).
    """

    def __init__(self, model_map=None, credential_name=None, header='Authorization'):
        self.model_map = {}
        for key, value in (model_map or {}).items():
            self.model_map[normalize_model(key)] = value
        self.credential = {'id': None, 'name': credential_name} if credential_name else None
        self.header = header or 'Authorization'

    def map_model(self, name):
        return self.model_map.get(normalize_model(name))


def validate_model_map(model_map):
    """A message for an unusable model_map, or None."""
    if not isinstance(model_map, dict):
        return 'model_map must be a dict of Ollama model name: LiteLLM model name'
    seen = {}
    for key, value in model_map.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(value, str) or not value.strip():
            return 'model_map: names must be non-empty strings, got %r: %r' % (key, value)
        if key.startswith('=') or value.startswith('='):
            return 'model_map: names must not start with "=" (n8n would read them as expressions): %r' % key
        norm = normalize_model(key)
        if norm in seen and seen[norm][1] != value:
            return 'model_map maps %s and %s (the same Ollama model) to different names' % (seen[norm][0], key)
        seen[norm] = (key, value)
    return None


class OpenAIChatConverter(object):
    """``convert: openai_chat`` (see the module's documentation): converts the nodes whose URL a rule
    that holds this converter rewrote."""

    @staticmethod
    def validate_rule(rule):
        label = 'rewrites[%d]' % rule.index
        if rule.regex:
            if '\\' not in rule.target and not urlsplit(rule.target).path.endswith('/chat/completions'):
                raise RuleError('%s: with convert: %s, to must be an OpenAI chat completions URL (.../chat/completions)'
                                % (label, OPENAI_CHAT))
            return
        if not urlsplit(rule.target).path.endswith('/chat/completions'):
            raise RuleError('%s: with convert: %s, to must be an OpenAI chat completions URL (.../chat/completions), '
                            'got %s' % (label, OPENAI_CHAT, rule.target))
        path = urlsplit(rule.source).path
        if not (path.endswith('/api/generate') or path.endswith('/api/chat')):
            raise RuleError('%s: with convert: %s, from must be an Ollama /api/generate or /api/chat URL, got %s'
                            % (label, OPENAI_CHAT, rule.source))

    def convert_workflow(self, entries, connections, context):
        ctx = context if context is not None else Context()
        candidates = [e for e in entries if e.url_change is not None and e.url_change.rule is not None
                      and e.url_change.rule.converter is self]
        if not candidates:
            return []
        counts = {}
        for entry in entries:
            counts[entry.name] = counts.get(entry.name, 0) + 1
        converted = {}
        refused = {}
        for entry in candidates:
            try:
                if counts[entry.name] > 1:
                    raise Refusal('the workflow has %d nodes named %r, so connections and references by name are '
                                  'ambiguous' % (counts[entry.name], entry.name))
                converted[entry.index] = convert_node(entry, ctx)
            except Refusal as exc:
                refused[entry.index] = exc
        while True:
            analysis = analyze_reads(entries, converted, refused, connections)
            newly = [(index, conv) for index, conv in converted.items() if conv.entry.name in analysis.problems]
            if not newly:
                break
            for index, conv in newly:
                refused[index] = Refusal(analysis.problems[conv.entry.name])
                del converted[index]
        return self._apply(entries, converted, refused, analysis, connections)

    @staticmethod
    def _apply(entries, converted, refused, analysis, connections):
        for index, exc in refused.items():
            entry = entries[index]
            url_change = entry.url_change
            entry.new_node = None
            entry.changes = [change for change in entry.changes if change is not url_change]
            fallback = getattr(entry, 'fallback_url', None)
            if fallback is None:
                entry.skipped.append({'node': entry.name, 'parameter': exc.parameter, 'kind': NOT_CONVERTED,
                                      'reason': '%s; the node is left as it is (URL included), and so are the nodes '
                                                'that read its answer' % exc.reason})
                continue
            # The rule's fallback: only the URL moves, the request stays in Ollama's shape.
            entry.new_node = copy.deepcopy(entry.node)
            set_path(entry.new_node, url_change.path, fallback)
            entry.changes.append(Change(entry.name, url_change.path, url_change.before, fallback, entry.fallback_rule))
            entry.skipped.append({'node': entry.name, 'parameter': exc.parameter, 'kind': NOT_CONVERTED,
                                  'moved_to': mask_text(fallback),
                                  'reason': '%s; the node is not converted: only its URL is moved, to the fallback '
                                            'of rewrites[%d] (%s), and the nodes that read its answer are left as '
                                            'they are' % (exc.reason, url_change.rule.index, mask_text(fallback))})
        for index, conv in converted.items():
            entries[index].new_node = conv.node
            entries[index].changes = conv.changes
        downstream = dict((conv.entry.name, []) for conv in converted.values())
        feeding_of = main_sources(connections)
        for (index, path), edits in sorted(analysis.edits.items(), key=lambda item: (item[0][0], str(item[0][1]))):
            entry = entries[index]
            if entry.new_node is None:
                entry.new_node = copy.deepcopy(entry.node)
            before = get_value(entry.new_node, path)
            after = apply_edits(before, edits)
            set_path(entry.new_node, path, after)
            previous = [c for c in entry.changes if c.path == path]
            if previous:
                previous[0].after = after
            else:
                entry.changes.append(Change(entry.name, path, before, after))
            for edit in edits:
                owners = [s for s in feeding_of.get(entry.name, []) if s in downstream] \
                    if edit.owners == 'input' else [edit.owners]
                for owner in owners:
                    downstream[owner].append({'node': entry.name, 'parameter': path_text(path),
                                              'before': edit.before, 'after': edit.after})
        report = []
        for index in sorted(converted):
            conv = converted[index]
            notes = list(conv.notes)
            if conv.model_after is not None and conv.model_after != conv.model_before:
                for reader in analysis.model_reads.get(conv.entry.name, []):
                    notes.append('node %r reads model, which now holds the LiteLLM name %r (was %r)'
                                 % (reader, conv.model_after, conv.model_before))
            notes.extend(whole_answer_notes(entries, conv, connections))
            report.append({'node': conv.entry.name, 'endpoint': conv.endpoint,
                           'model': {'before': conv.model_before,
                                     'after': conv.model_after if conv.model_after is not None else conv.model_before},
                           'notes': notes, 'downstream': downstream[conv.entry.name]})
        return report
