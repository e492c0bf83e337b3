# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The nodes that read a converted node's answer (``convert: openai_chat``). Pure logic, no I/O.

In the nodes directly after a converted node, ``$json.response`` (and the like) becomes
``$json.choices[0].message.content``; anywhere in the workflow, the same through a reference by
name (``$('Ask Ollama').item.json.response``, ``$node["Ask Ollama"].json...``). A read that
cannot be rewritten exactly is a problem of the converted node, which is then left as it is.
"""

from __future__ import annotations

import collections
import re

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_body import MISSING, decode_js_string
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_expression import ExpressionError, scan_expression_end
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_fields import ANSWER_PATHS, COMMON_PATHS, NO_COUNTERPART, Refusal, watched_fields
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import CODE_NODE_TYPES
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import main_sources, main_targets, walk_strings

WEBHOOK = 'n8n-nodes-base.webhook'
RESPOND_TO_WEBHOOK = 'n8n-nodes-base.respondToWebhook'

_QSTR = r'''(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`)'''
_INPUT_ACCESSOR = re.compile(
    r'(?<![\w$.])(?:\$json|\$input\s*\.\s*(?:item|first\(\s*\)|last\(\s*\)|all\(\s*\)\s*\[\s*\d+\s*\])\s*\.\s*json'
    r'|items\s*\[\s*\d+\s*\]\s*\.\s*json)(?![\w$])')
_NAMED_ACCESSOR = re.compile(
    r'(?<![\w$.])(?:\$\(\s*(?P<q1>' + _QSTR + r')\s*\)\s*\.\s*(?:item|first\(\s*\)|last\(\s*\)|all\(\s*\)\s*\[\s*\d+\s*\]'
    r'|itemMatching\([^()]*\)|pairedItem\([^()]*\))\s*\.\s*json'
    r'|\$node\s*\[\s*(?P<q2>' + _QSTR + r')\s*\]\s*\.\s*json'
    r'|\$node\s*\.\s*(?P<ident>[A-Za-z_$][\w$]*)\s*\.\s*json'
    r'|\$items\(\s*(?P<q3>' + _QSTR + r')\s*(?:,[^()]*)?\)\s*\[\s*\d+\s*\]\s*\.\s*json)(?![\w$])')
_NAME_MENTION = re.compile(
    r'(?<![\w$.])(?:\$\(\s*(?P<q1>' + _QSTR + r')|\$node\s*\[\s*(?P<q2>' + _QSTR + r')'
    r'|\$node\s*\.\s*(?P<ident>[A-Za-z_$][\w$]*)|\$items\(\s*(?P<q3>' + _QSTR + r'))')
_HARMLESS_NAMED = re.compile(r'\s*\)\s*\.\s*isExecuted(?![\w$])')
_SEGMENT = re.compile(
    r'''\s*(?:(?P<dot>\?\.|\.)\s*(?P<ident>[A-Za-z_$][\w$]*)|(?P<opt>\?\.)?\[\s*(?:(?P<q>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")'''
    r'''|(?P<num>\d+))\s*\])''')


def _named(match):
    """The node name an accessor or mention refers to (None when it cannot be read)."""
    if match.group('ident'):
        return match.group('ident')
    for group in ('q1', 'q2', 'q3'):
        quoted = match.group(group)
        if quoted:
            value = decode_js_string(quoted[1:-1])
            return None if value is MISSING else value
    return None


# One step of a property path: where it is in the code, the property, and whether it is ?. (optional).
Segment = collections.namedtuple('Segment', 'start end name optional')


def read_path(code, pos):
    """The property path after an accessor: [Segment]."""
    segments = []
    while True:
        found = _SEGMENT.match(code, pos)
        if not found:
            return segments
        if found.group('ident'):
            name = found.group('ident')
        elif found.group('num'):
            name = int(found.group('num'))
        else:
            name = decode_js_string(found.group('q')[1:-1])
            if name is MISSING:
                return segments
        segments.append(Segment(found.start(), found.end(), name,
                                bool(found.group('opt')) or found.group('dot') == '?.'))
        pos = found.end()


def _path_code(parts, optional):
    out = ''
    for part in parts:
        if isinstance(part, int):
            out += ('?.[%d]' if optional else '[%d]') % part
        else:
            out += ('?.' if optional else '.') + part
    return out


def classify(segments, endpoint):
    """What a read of the answer becomes: ('rewrite', n, new path), ('refuse', why), ('model',), ('leave',)."""
    if not segments:
        return ('refuse', 'reads the whole answer, whose shape changes')
    first = segments[0].name
    if endpoint == 'chat' and first == 'message':
        if len(segments) > 1 and segments[1].name in ('content', 'role'):
            return ('rewrite', 2, ('choices', 0, 'message', segments[1].name))
        return ('refuse', 'reads message%s, which has no exact counterpart in the OpenAI answer'
                % ('.' + str(segments[1].name) if len(segments) > 1 else ' as a whole'))
    if first in ANSWER_PATHS[endpoint]:
        return ('rewrite', 1, ANSWER_PATHS[endpoint][first])
    if first in COMMON_PATHS:
        return ('rewrite', 1, COMMON_PATHS[first])
    if first in NO_COUNTERPART:
        return ('refuse', 'reads %s, which the OpenAI answer does not have' % first)
    if first == 'model':
        return ('model',)
    return ('leave',)


class Edit(object):
    """One rewritten read inside one string parameter."""

    def __init__(self, start, end, text, owners, before, after):
        self.start = start
        self.end = end
        self.text = text
        self.owners = owners      # 'input' (the node's direct sources) or a converted node's name
        self.before = before
        self.after = after


class StringScan(object):
    def __init__(self):
        self.edits = []
        self.problems = []        # (owner, reason)
        self.model_reads = []     # owners


def _excerpt(code, start, end, width=40):
    return code[max(0, start - 10):min(len(code), end + width)].strip()


def code_regions(value, is_code):
    """Parts of a string parameter that are JavaScript: [(start, end)], or None when unreadable."""
    if value.startswith('='):
        regions = []
        pos = 1
        while True:
            found = value.find('{{', pos)
            if found < 0:
                return regions
            try:
                end = scan_expression_end(value, found + 2)
            except ExpressionError:
                return None
            regions.append((found + 2, end))
            pos = end + 2
    return [(0, len(value))] if is_code else []


def scan_string(value, language, input_endpoint, names):
    """Reads of converted answers in one string parameter.

    ``language``: 'js' (a Code node's code), 'python', or None (a parameter, JavaScript only inside
    ``={{ }}``). ``input_endpoint``: the Ollama endpoint (generate, chat) behind ``$json`` (None when the
    node is not right after a converted node). ``names``: {converted node name: its Ollama endpoint}.
    """
    scan = StringScan()
    if language == 'python' and not value.startswith('='):
        if input_endpoint is not None:
            for field in watched_fields(input_endpoint):
                if re.search(r'\b%s\b' % re.escape(field), value):
                    scan.problems.append(('input', 'its Python code reads %s, which cannot be rewritten' % field))
                    break
        for name in names:
            if re.search(r'[\'"]%s[\'"]' % re.escape(name), value):
                scan.problems.append((name, 'Python code refers to it by name, which cannot be rewritten'))
        return scan
    regions = code_regions(value, language == 'js')
    if regions is None:
        mentioned = [name for name in names if name in value]
        if input_endpoint is not None and any(re.search(r'\b%s\b' % re.escape(f), value)
                                              for f in watched_fields(input_endpoint)):
            mentioned.append('input')
        for owner in mentioned:
            scan.problems.append((owner, 'an expression that cannot be parsed mentions the answer (%s)'
                                  % value[:80]))
        return scan
    for start, end in regions:
        _scan_region(value, start, end, input_endpoint, names, scan)
    return scan


def _scan_region(value, start, end, input_endpoint, names, scan):
    code = value[:end]
    covered = set()
    accessors = []
    if input_endpoint is not None:
        for found in _INPUT_ACCESSOR.finditer(code, start):
            accessors.append((found, 'input', input_endpoint))
    for found in _NAMED_ACCESSOR.finditer(code, start):
        name = _named(found)
        accessors.append((found, name if name in names else None, names.get(name)))
    named_spans = set()
    for found, owner, endpoint in accessors:
        segments = read_path(code, found.end())
        for segment in segments:
            covered.update(range(segment.start, segment.end))
        if owner is None:
            continue
        if owner != 'input':
            named_spans.add(found.start())
        verdict = classify(segments, endpoint)
        accessor_text = code[found.start():found.end()]
        if verdict[0] == 'rewrite':
            count, parts = verdict[1], verdict[2]
            used = segments[:count]
            new_path = _path_code(parts, any(segment.optional for segment in used))
            old_path = code[used[0].start:used[-1].end]
            scan.edits.append(Edit(used[0].start, used[-1].end, new_path, owner,
                                   accessor_text + old_path.strip(), accessor_text + new_path))
        elif verdict[0] == 'refuse':
            end_at = segments[0].end if segments else found.end()
            scan.problems.append((owner, '%s (%s)' % (verdict[1], code[found.start():end_at].strip())))
        elif verdict[0] == 'model':
            scan.model_reads.append(owner)
    # Every mention of a converted node by name must be one of the reads understood above.
    for found in _NAME_MENTION.finditer(code, start):
        name = _named(found)
        if name in names and found.start() not in named_spans and not _HARMLESS_NAMED.match(code, found.end()):
            scan.problems.append((name, 'refers to it in a way that cannot be rewritten (%s)'
                                  % _excerpt(code, found.start(), found.end())))
    # Every read of an answer field in a node right after a converted node must be understood too.
    if input_endpoint is not None:
        fields = '|'.join(re.escape(f) for f in watched_fields(input_endpoint))
        pattern = re.compile(r'(?:\?\.|\.)\s*(?P<a>%s)(?![\w$])|\[\s*([\'"`])(?P<b>%s)\2\s*\]' % (fields, fields))
        for found in pattern.finditer(code, start):
            where = found.start('a') if found.group('a') else found.start('b')
            if where not in covered:
                scan.problems.append(('input', 'reads %s in a way that cannot be rewritten (%s)'
                                      % (found.group('a') or found.group('b'),
                                         _excerpt(code, found.start(), found.end()))))


def _code_language(node, path):
    """The language of a Code node's code ('python', 'js'), or None for any other parameter."""
    if node.get('type') not in CODE_NODE_TYPES:
        return None
    if path[-1] == 'pythonCode' or (node.get('parameters') or {}).get('language') in ('python', 'pythonNative'):
        return 'python'
    return 'js'


class ReadAnalysis(object):
    def __init__(self):
        self.problems = {}        # converted node name -> reason
        self.edits = {}           # (node index, path) -> [Edit]
        self.model_reads = {}     # converted node name -> [reader node names]


def analyze_reads(entries, converted, refused, connections):
    """Reads of the converted nodes' answers across the workflow, given who is converted."""
    analysis = ReadAnalysis()
    by_name = dict((conv.entry.name, conv) for conv in converted.values())
    names = dict((name, conv.endpoint) for name, conv in by_name.items())
    sources = main_sources(connections)
    refused_names = set(entries[index].name for index in refused)

    def problem(owner, reason):
        analysis.problems.setdefault(owner, reason)

    for entry in entries:
        node = converted[entry.index].node if entry.index in converted else entry.current
        if not isinstance(node, dict) or not isinstance(node.get('parameters'), dict):
            continue
        reader = entry.name
        feeding = [s for s in sources.get(reader, []) if s in by_name]
        endpoints = set(by_name[s].endpoint for s in feeding)
        if len(endpoints) > 1:
            for name in feeding:
                problem(name, 'node %r receives the answers of both a generate and a chat node' % reader)
        input_endpoint = endpoints.pop() if len(endpoints) == 1 else None
        has_input_reads = False
        for path, text in walk_strings(node['parameters'], ('parameters',)):
            scan = scan_string(text, _code_language(node, path), input_endpoint, names)
            for owner, reason in scan.problems:
                has_input_reads = has_input_reads or owner == 'input'
                for name in _owners(owner, feeding):
                    problem(name, 'node %r %s' % (reader, reason))
            for owner in scan.model_reads:
                has_input_reads = has_input_reads or owner == 'input'
                for name in _owners(owner, feeding):
                    analysis.model_reads.setdefault(name, []).append(reader)
            if scan.edits:
                analysis.edits[(entry.index, path)] = scan.edits
            for edit in scan.edits:
                has_input_reads = has_input_reads or edit.owners == 'input'
                if reader in refused_names:
                    for name in _owners(edit.owners, feeding):
                        problem(name, 'node %r reads its answer (%s), but is left as it is (its own conversion '
                                      'was refused)' % (reader, edit.before))
        others = [s for s in sources.get(reader, []) if s not in by_name]
        if has_input_reads and others:
            for name in feeding:
                problem(name, 'node %r reads the answer through $json but also receives items from %s, so its '
                              'reads cannot be rewritten for this node alone'
                        % (reader, ', '.join(repr(o) for o in others)))
    return analysis


def _owners(owner, feeding):
    """The converted nodes an edit or problem belongs to ('input': the reader's converted sources)."""
    return list(feeding) if owner == 'input' else [owner]


def apply_edits(text, edits):
    """``text`` with the rewritten reads put in; raises Refusal when two of them overlap."""
    out = []
    last = 0
    for edit in sorted(edits, key=lambda e: e.start):
        if edit.start < last:
            raise Refusal('overlapping rewrites in one parameter')
        out.append(text[last:edit.start])
        out.append(edit.text)
        last = edit.end
    out.append(text[last:])
    return ''.join(out)


def whole_answer_notes(entries, conversion, connections):
    """Places where the converted node's whole output leaves the workflow (its shape changes there)."""
    notes = []
    name = conversion.entry.name
    targets = main_targets(connections, name)
    nodes = dict((e.name, e.node) for e in entries if isinstance(e.node, dict))
    for target in targets:
        node = nodes.get(target) or {}
        respond_with = (node.get('parameters') or {}).get('respondWith', 'firstIncomingItem')
        if node.get('type') == RESPOND_TO_WEBHOOK and respond_with in ('firstIncomingItem', 'allIncomingItems'):
            notes.append('node %r answers the webhook with this node\'s whole output, which is now an OpenAI chat '
                         'completion: the text is at choices[0].message.content' % target)
    if not targets:
        for node in nodes.values():
            if node.get('type') == WEBHOOK and (node.get('parameters') or {}).get('responseMode') == 'lastNode':
                notes.append('the webhook %r answers with the last node\'s output; when that is this node, the '
                             'caller now gets an OpenAI chat completion: the text is at choices[0].message.content'
                             % node.get('name'))
    return notes
