# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Pure logic behind n8n_workflow_urls: which URL strings of an n8n workflow a rule
rewrites, which it only finds, and what each workflow's plan is. No I/O here.

Terms:

* A *rule* turns URLs that start with ``from`` into URLs that start with ``to``.
  A prefix rule matches when the URL starts with ``from`` (scheme and host compared
  case-insensitively) and the match ends at the end of the string or right before
  ``/``, ``?`` or ``#`` (or ``from`` itself ends with one of these). So
  ``https://llm.example.com/api/generate`` matches itself, ``.../generate?x=1`` and
  ``.../generate/more``, but not ``.../generatex`` nor ``https://llm.example.com.evil/``.
  A regex rule (``regex: true``) matches where its pattern matches at the start of
  the URL; the matched part becomes ``to`` expanded with the match's groups.
  Either way the rest of the URL is kept as it is: the result is ``to + rest``.
* A *mention* is any place in a string where a rule's ``from`` (or, for expressions,
  its scheme and host) occurs. Mentions that cannot be rewritten safely are reported
  as *skipped* with a reason, so the user sees everything still pointing at ``from``.
* Only the ``url`` parameter of the HTTP Request node family is ever rewritten:
  a literal string, or an n8n expression (``=`` prefix) in which the URL stands as
  literal text at the start, or at the start of a JavaScript string literal inside
  ``{{ }}``.

Phase 2: a rule's ``convert`` names a *converter*, one of those the caller hands to
``build_rules`` (``{name: converter}``; ``none`` means no conversion), and the rule keeps it
(``Rule.converter``). A converter is an object with ``convert_workflow(entries, connections,
context)``: it sees every node of the workflow at once (the ``NodeEntry`` list, see plan_nodes),
so it can also change the nodes that read the converted node's answer, or leave a node completely
untouched, URL included; it updates the entries in place and returns the conversions made (dicts).
It may also have ``validate_rule(rule)``, which raises RuleError. ``openai_chat`` (Ollama to OpenAI
chat completions) is the one the module hands over.
A rule's ``fallback`` (only with a converter) is where a node goes when the conversion is refused:
plan_nodes puts the URL the fallback gives in ``NodeEntry.fallback_url``, and a converter that
refuses the node moves only its URL there instead of leaving it untouched.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_change, mask_text, mask_value
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_expression import (
    ExpressionError, expression_literals,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import (
    has_unpublished_draft, is_active, unsupported_node_keys, walk_strings,
)

# Node types whose parameters.url is the request URL (all typeVersions use the same key).
HTTP_NODE_TYPES = frozenset((
    'n8n-nodes-base.httpRequest',
    'n8n-nodes-base.httpRequestTool',
    '@n8n/n8n-nodes-langchain.toolHttpRequest',
))
CODE_NODE_TYPES = frozenset((
    'n8n-nodes-base.code',
    'n8n-nodes-base.function',
    'n8n-nodes-base.functionItem',
    '@n8n/n8n-nodes-langchain.code',
    '@n8n/n8n-nodes-langchain.toolCode',
))
STICKY_NOTE_TYPE = 'n8n-nodes-base.stickyNote'

# Credential types whose data holds an LLM server's address (field name as value). The public
# API cannot read credential data, so nodes using them are reported, never changed.
LLM_CREDENTIAL_TYPES = {
    'ollamaApi': 'baseUrl',
    'openAiApi': 'url',
    'lemonadeApi': 'baseUrl',
    'anthropicApi': 'url',
    'vercelAiGatewayApi': 'url',
    'azureOpenAiApi': 'endpoint',
}


class CredentialMove(object):
    """Nodes that use one of the credentials ``sources`` (names or ids) of type ``cred_type`` move to the
    credential named ``target`` of that type, created with ``data`` when n8n has none; ``ref`` is its
    ``{id, name}`` (id None until n8n has it)."""

    def __init__(self, cred_type, sources, target, data=None):
        self.cred_type = cred_type
        self.sources = frozenset(str(source) for source in sources)
        self.target = target
        self.data = data
        self.ref = {'id': None, 'name': target}
        self.report = None      # its entry in the module's result, once looked up

    def applies_to(self, ref):
        """Whether a node's credential reference is one of the sources (and not the target already)."""
        if not isinstance(ref, dict) or self.is_target(ref):
            return False
        return str(ref.get('id')) in self.sources or str(ref.get('name')) in self.sources

    def is_target(self, ref):
        if not isinstance(ref, dict):
            return False
        if self.ref['id'] is not None:
            return str(ref.get('id')) == str(self.ref['id'])
        return ref.get('name') == self.target


def build_moves(specs):
    """``{credential type: CredentialMove}`` from the module's credential_moves option."""
    moves = {}
    for index, spec in enumerate(specs or []):
        cred_type = spec.get('type')
        if cred_type not in LLM_CREDENTIAL_TYPES:
            raise RuleError('credential_moves[%d].type %r is not an LLM credential type (one of %s)'
                            % (index, cred_type, ', '.join(sorted(LLM_CREDENTIAL_TYPES))))
        if cred_type in moves:
            raise RuleError('credential_moves[%d]: a second move for %s; name every old credential in one'
                            % (index, cred_type))
        sources = [str(s).strip() for s in spec.get('from') or [] if str(s).strip()]
        target = (spec.get('to') or '').strip()
        if not sources or not target:
            raise RuleError('credential_moves[%d] needs from (the old credentials, names or ids) and to (the name '
                            'of the credential to use instead)' % index)
        if target in sources:
            raise RuleError('credential_moves[%d]: %r is both in from and to' % (index, target))
        moves[cred_type] = CredentialMove(cred_type, sources, target, spec.get('data'))
    return moves


def apply_credential(nodes, changes, ref, cred_type):
    """Put the now known credential ``{id, name}`` of ``cred_type`` into the planned nodes whose change sets
    ``credentials.<cred_type>``, and into those changes."""
    planned = set()
    for change in changes:
        if change.path == ('credentials', cred_type) and isinstance(change.after, dict):
            change.after.update(ref)
            planned.add(change.node)
    for node in nodes or []:
        if isinstance(node, dict) and node.get('name') in planned:
            node['credentials'][cred_type] = dict(ref)


def apply_moves(nodes, changes, moves):
    """apply_credential for the target of every move."""
    for move in moves.values():
        apply_credential(nodes, changes, move.ref, move.cred_type)


BOUNDARY = '/?#'
# Characters that continue a host name or a path segment: a mention must not be followed by one.
_CONTINUES = re.compile(r'[A-Za-z0-9\-._~%]')
_SCHEME = re.compile(r'^https?://', re.I)
MAX_MENTIONS = 1000       # mentions looked at in one string


class RuleError(ValueError):
    """A rewrite rule is unusable; the message says why."""


def is_http_url(value):
    """True for an absolute http(s) URL with a host."""
    if not isinstance(value, str) or not _SCHEME.match(value):
        return False
    rest = value.split('://', 1)[1]
    host = re.split(r'[/?#]', rest, maxsplit=1)[0]
    host = host.rsplit('@', 1)[-1]
    return bool(host) and not any(c.isspace() for c in value)


def _authority_end(url):
    """Index just after ``scheme://host[:port]`` in an http(s) URL."""
    start = url.find('://') + 3
    match = re.compile(r'[/?#]').search(url, start)
    return match.start() if match else len(url)


def origin_of(url):
    """``scheme://host[:port]`` of an http(s) URL, lower-cased."""
    return url[:_authority_end(url)].lower()


class Match(object):
    """A rule matched at the start of a string: ``end`` chars are replaced by ``replacement``."""

    def __init__(self, end, replacement):
        self.end = end
        self.replacement = replacement


AMBIGUOUS = 'ambiguous'


class Rule(object):
    """One ``{from, to, regex, convert, fallback}`` entry of ``rewrites``; ``converters`` are the
    ``{name: converter}`` that ``convert`` may name besides ``none``."""

    def __init__(self, source, target, regex=False, convert='none', index=0, fallback=None, converters=None):
        self.source = source
        self.target = target
        self.regex = bool(regex)
        self.convert = convert or 'none'
        self.index = index
        self.fallback = fallback
        self.pattern = None
        self.origin = None
        self.converter = None       # what ``convert`` names (None for none)
        self._validate(converters or {})
        # The same match with ``fallback`` as its target and no conversion: where a node goes
        # when the conversion refuses it.
        self.fallback_rule = None
        if fallback is not None:
            self.fallback_rule = Rule(source, fallback, regex, 'none', index)

    def _validate(self, converters):
        label = 'rewrites[%d]' % self.index
        if not isinstance(self.source, str) or not self.source:
            raise RuleError('%s: from must be a non-empty string' % label)
        if not is_http_url(self.target):
            raise RuleError('%s: to must be an http:// or https:// URL with a host, got %r'
                            % (label, mask_text(self.target)))
        if self.convert != 'none' and self.convert not in converters:
            raise RuleError('%s: convert must be one of %s, got %r'
                            % (label, ', '.join(sorted(set(converters) | set(['none']))), self.convert))
        if self.convert != 'none':
            self.converter = converters[self.convert]
        if self.fallback is not None:
            if self.converter is None:
                raise RuleError('%s: fallback is only used with convert (where a node goes when its conversion '
                                'is refused); this rule has convert: %s' % (label, self.convert))
            if not is_http_url(self.fallback):
                raise RuleError('%s: fallback must be an http:// or https:// URL with a host, got %r'
                                % (label, mask_text(self.fallback)))
        if self.regex:
            try:
                self.pattern = re.compile(self.source)
            except re.error as exc:
                raise RuleError('%s: from is not a valid regular expression: %s' % (label, exc))
            if self.pattern.match('') is not None:
                raise RuleError('%s: the pattern in from matches the empty string' % label)
            for ref in re.findall(r'\\(?:g<([^>]*)>|([0-9]+))', self.target):
                name = ref[0] or ref[1]
                known = int(name) <= self.pattern.groups if name.isdigit() else name in self.pattern.groupindex
                if not known:
                    raise RuleError('%s: to refers to the group %s, which the pattern lacks' % (label, name))
        else:
            if not is_http_url(self.source):
                raise RuleError('%s: from must be an http:// or https:// URL with a host (or set regex: true), '
                                'got %r' % (label, mask_text(self.source)))
            self.origin = origin_of(self.source)
            self._host_len = _authority_end(self.source)
        validate = getattr(self.converter, 'validate_rule', None)
        if validate is not None:
            validate(self)

    def describe(self):
        return self.source

    def match(self, text, end_is_boundary=True):
        """Match at the start of ``text``.

        Returns a Match, None, or AMBIGUOUS when the match reaches the end of ``text`` while
        ``end_is_boundary`` is false (what follows is only known at run time).
        """
        if not isinstance(text, str):
            return None
        if self.regex:
            found = self.pattern.match(text)
            if found is None or found.end() == 0:
                return None
            if found.end() == len(text) and not end_is_boundary:
                return AMBIGUOUS
            try:
                return Match(found.end(), found.expand(self.target))
            except (re.error, IndexError) as exc:
                raise RuleError('rewrites[%d]: to refers to a group the pattern lacks: %s' % (self.index, exc))
        size = len(self.source)
        hl = self._host_len
        if len(text) < size or text[:hl].lower() != self.source[:hl].lower() or text[hl:size] != self.source[hl:]:
            return None
        if len(text) == size:
            return Match(size, self.target) if end_is_boundary else AMBIGUOUS
        if self.source[-1] in BOUNDARY or text[size] in BOUNDARY:
            return Match(size, self.target)
        return None

    def mentions(self, text, with_origin=False):
        """Start offsets in ``text`` where ``from`` (or its origin when ``with_origin``) occurs."""
        if not isinstance(text, str) or not text:
            return []
        found = []
        if self.regex:
            for count, hit in enumerate(self.pattern.finditer(text)):
                if count >= MAX_MENTIONS:
                    break
                if hit.end() > hit.start():
                    found.append(hit.start())
            return found
        lower = text.lower()
        needles = [self.source.lower()]
        if with_origin and self.origin not in needles:
            needles.append(self.origin)
        for needle in needles:
            start = 0
            for dummy in range(MAX_MENTIONS):
                pos = lower.find(needle, start)
                if pos < 0:
                    break
                if _mention_ends(text, pos + len(needle), needle):
                    found.append(pos)
                start = pos + 1
        return sorted(set(found))


def _mention_ends(text, end, needle):
    """Whether an occurrence of ``needle`` ending at ``end`` ends there as a URL does.

    Sentence punctuation right after it (``see https://llm.example.com/api.``) still ends it;
    ``https://llm.example.com.evil`` or ``.../generatex`` do not.
    """
    if end >= len(text) or needle[-1] in BOUNDARY or not _CONTINUES.match(text[end]):
        return True
    return text[end] in '.,;:!' and (end + 1 >= len(text) or not _CONTINUES.match(text[end + 1]))


def build_rules(specs, converters=None):
    """Rules from the module's ``rewrites`` option; raises RuleError. ``converters``: the
    ``{name: converter}`` a rule's ``convert`` may name besides ``none``."""
    if not specs:
        raise RuleError('rewrites must hold at least one {from, to} rule')
    rules = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise RuleError('rewrites[%d] must be a dict with from and to' % index)
        rules.append(Rule(spec.get('from'), spec.get('to'), spec.get('regex', False),
                          spec.get('convert', 'none'), index, spec.get('fallback'), converters))
    # Rewriting must be idempotent: no new URL may match a rule again (a second run would
    # rewrite it once more).
    for rule in rules:
        if rule.regex and '\\' in rule.target:
            continue
        for probe in (rule.target, rule.target.rstrip('/') + '/'):
            for other in rules:
                if isinstance(other.match(probe), Match):
                    raise RuleError('rewrites[%d]: to (%s) would be matched by rewrites[%d] (from %s), so every run '
                                    'would rewrite it once more' % (rule.index, mask_text(rule.target), other.index,
                                                                    mask_text(other.source)))
    # A fallback gets nodes whose conversion was refused. A convert rule without fallback may match
    # it: the next run tries to convert the node again, is refused again and leaves it. Any other
    # rule would move it once more.
    for rule in rules:
        if rule.fallback is None or (rule.regex and '\\' in rule.fallback):
            continue
        for probe in (rule.fallback, rule.fallback.rstrip('/') + '/'):
            for other in rules:
                if isinstance(other.match(probe), Match) and (other.converter is None
                                                              or other.fallback is not None):
                    raise RuleError('rewrites[%d]: fallback (%s) would be matched by rewrites[%d] (from %s), which '
                                    '%s, so every run would move the node once more'
                                    % (rule.index, mask_text(rule.fallback), other.index, mask_text(other.source),
                                       'has a fallback itself' if other.fallback is not None else 'does not convert'))
    return rules


def rewrite_url(url, rules):
    """``(new_url, rule)`` for a plain URL string, or ``(url, None)`` when no rule matches."""
    for rule in rules:
        found = rule.match(url)
        if isinstance(found, Match):
            return found.replacement + url[found.end:], rule
    return url, None


# ------------------------------------------------------------------------------------------
# Rewriting URLs in n8n expressions (how they are scanned: _n8n_expression).

def _safe_in_literal(value, kind):
    """Whether ``value`` can be put into a literal of ``kind`` without changing the expression's shape."""
    if kind == 'text':
        return '{{' not in value and '}}' not in value
    if '\\' in value or '\n' in value:
        return False
    if kind == '`':
        return '`' not in value and '${' not in value
    return kind not in value


def rewrite_expression(value, rules):
    """Rewrite an expression string (``=...``).

    Returns ``(new_value, rules_used, problem)``: ``new_value`` equals ``value`` when nothing was
    rewritten; ``problem`` is None or the reason why a mention of a rule was left alone (then
    nothing is rewritten at all).
    """
    body = value[1:]
    try:
        literals = expression_literals(body)
    except ExpressionError as exc:
        if any(rule.mentions(body, with_origin=True) for rule in rules):
            return value, [], 'the expression could not be parsed (%s)' % exc
        return value, [], None
    edits = []
    problem = None
    for lit in literals:
        if lit.kind == 'text' and not lit.first:
            continue
        head = body[lit.start:lit.static_end]
        at_end = lit.static_end == lit.end and (lit.kind != 'text' or lit.end == len(body))
        for rule in rules:
            found = rule.match(head, end_is_boundary=at_end)
            if found is None:
                continue
            if found is AMBIGUOUS:
                problem = ('the old URL is followed by an expression part, so where it ends is only known '
                           'at run time')
            elif lit.escaped and '\\' in head[:found.end]:
                problem = 'the old URL contains an escape sequence inside the string literal'
            elif not _safe_in_literal(found.replacement, lit.kind):
                problem = 'the new URL contains characters that would change the expression'
            else:
                edits.append((lit.start, lit.start + found.end, found.replacement, rule))
            break
    covered = set(start for start, dummy, dummy, dummy in edits)
    if problem is None:
        problem = _uncovered_mention(body, literals, rules, covered)
    if problem:
        return value, [], problem
    if not edits:
        return value, [], None
    out = []
    last = 0
    used = []
    for start, end, replacement, rule in sorted(edits, key=lambda e: e[0]):
        out.append(body[last:start])
        out.append(replacement)
        last = end
        if rule not in used:
            used.append(rule)
    out.append(body[last:])
    return '=' + ''.join(out), used, None


def _literal_at(literals, pos):
    for lit in literals:
        if lit.start <= pos < lit.end:
            return lit
    return None


def _uncovered_mention(body, literals, rules, covered):
    """Why a mention of an old address that no edit covers makes the expression unsafe, or None.

    A full mention of ``from`` anywhere else is unsafe. So is the old origin (scheme and host) at
    the end of a literal piece that stops before ``from`` is complete, e.g.
    ``'https://llm.example.com' + '/api/generate'``: the address is built at run time. An origin
    followed by a different, complete path (``'https://llm.example.com/api/tags'``) is another
    endpoint and is left alone.
    """
    for rule in rules:
        for pos in rule.mentions(body):
            if pos not in covered:
                return ('it holds the old address inside a longer text or code, where it cannot be rewritten '
                        'as a whole')
        if rule.regex:
            continue
        for pos in rule.mentions(body, with_origin=True):
            if pos in covered:
                continue
            lit = _literal_at(literals, pos)
            if lit is None:
                return 'the old address stands in the code itself'
            tail = body[pos:lit.static_end]
            if len(tail) < len(rule.source) and rule.source.lower().startswith(tail.lower()):
                return 'it builds the URL from parts at run time (%r ...)' % mask_text(tail)
    return None


def has_static_http(value):
    """Whether an expression holds any literal http(s) address at all."""
    return bool(re.search(r'https?://', value, re.I))


# ------------------------------------------------------------------------------------------
# Nodes and workflows

class Change(object):
    """One parameter of one node changed from ``before`` to ``after``."""

    def __init__(self, node, path, before, after, rule=None):
        self.node = node
        self.path = path
        self.before = before
        self.after = after
        self.rule = rule

    def as_dict(self):
        return {'node': self.node, 'parameter': path_text(self.path),
                'before': mask_value(self.before), 'after': mask_value(self.after)}


def path_text(path):
    out = ''
    for part in path:
        out += '[%d]' % part if isinstance(part, int) else ('.' + part if out else part)
    return out


def _place(node_type, path):
    """A short description of where a parameter sits, for skipped reasons."""
    top = path[1] if len(path) > 1 else path[0]
    if path[0] == 'notes':
        return 'the node\'s notes'
    if node_type in CODE_NODE_TYPES:
        return 'the code of a Code node'
    if node_type == STICKY_NOTE_TYPE:
        return 'a sticky note'
    if node_type in HTTP_NODE_TYPES:
        if top in ('jsonBody', 'body', 'bodyParametersJson', 'bodyParametersUi', 'bodyParameters',
                   'parametersBody', 'rawContentType'):
            return 'the request body'
        if top in ('headerParameters', 'headerParametersJson', 'headerParametersUi', 'jsonHeaders',
                   'parametersHeaders'):
            return 'a request header'
        if top in ('queryParameters', 'queryParametersJson', 'queryParametersUi', 'jsonQuery',
                   'parametersQuery'):
            return 'a query parameter'
        if top == 'options':
            return 'the request options'
    return 'a parameter of a %s node' % (node_type or 'untyped')


def _skip(node, path, kind, reason):
    return {'node': node.get('name'), 'parameter': path_text(path) if path else None,
            'kind': kind, 'reason': reason}


def rewrite_node(node, rules, moves=None):
    """Plan one node: ``(new_node_or_None, changes, skipped)``; ``node`` is not modified. ``moves``
    (see build_moves) re-point LLM credentials."""
    changes = []
    skipped = []
    if not isinstance(node, dict):
        return None, changes, skipped
    name = node.get('name')
    node_type = node.get('type')
    params = node.get('parameters') if isinstance(node.get('parameters'), dict) else {}
    new_node = None
    url_path = ('parameters', 'url')
    url_rule = None
    if node_type in HTTP_NODE_TYPES and isinstance(params.get('url'), str):
        url = params['url']
        if url.startswith('='):
            new_url, used, problem = rewrite_expression(url, rules)
            if problem:
                skipped.append(_skip(node, url_path, 'expression',
                                     'url is an n8n expression that mentions the old address, but %s; '
                                     'change it by hand' % problem))
            elif not used and not has_static_http(url):
                skipped.append(_skip(node, url_path, 'dynamic_url',
                                     'url is computed at run time (%s); it may point at the old address'
                                     % mask_text(url)[:120]))
            url_rule = used[0] if used else None
        else:
            new_url, url_rule = rewrite_url(url, rules)
            if url_rule is None and any(rule.mentions(url) for rule in rules):
                skipped.append(_skip(node, url_path, 'not_rewritable',
                                     'url holds the old address, but not at its start'))
            elif url_rule is not None:
                rest = url[url_rule.match(url).end:]
                if any(rule.mentions(rest) for rule in rules):
                    skipped.append(_skip(node, url_path, 'not_rewritable',
                                         'the start of url was rewritten, but it holds the old address once more '
                                         'further on (%s); that part is left as it is' % mask_text(rest)[:120]))
        if new_url != url:
            new_node = copy.deepcopy(node)
            new_node['parameters']['url'] = new_url
            changes.append(Change(name, url_path, url, new_url, url_rule))
    # Everything else that mentions an old address is reported, never rewritten.
    changed_paths = set(change.path for change in changes)
    for path, text in walk_strings(params, ('parameters',)):
        if path in changed_paths or (path == url_path and node_type in HTTP_NODE_TYPES):
            continue
        hit = [rule for rule in rules if rule.mentions(text)]
        if hit:
            skipped.append(_skip(node, path, 'mention',
                                 '%s is mentioned in %s; only the url of HTTP Request nodes is rewritten'
                                 % (hit[0].describe(), _place(node_type, path))))
    if isinstance(node.get('notes'), str):
        hit = [rule for rule in rules if rule.mentions(node['notes'])]
        if hit:
            skipped.append(_skip(node, ('notes',), 'mention', '%s is mentioned in %s; it is not rewritten'
                                 % (hit[0].describe(), _place(node_type, ('notes',)))))
    credentials = node.get('credentials')
    if isinstance(credentials, dict):
        for cred_type in sorted(credentials):
            if cred_type in LLM_CREDENTIAL_TYPES:
                ref = credentials[cred_type]
                move = (moves or {}).get(cred_type)
                if move is not None and move.applies_to(ref):
                    new_node = new_node or copy.deepcopy(node)
                    new_node['credentials'][cred_type] = dict(move.ref)
                    changes.append(Change(name, ('credentials', cred_type), dict(ref), dict(move.ref)))
                    continue
                if move is not None and move.is_target(ref):
                    continue
                label = ref.get('name') or ref.get('id') if isinstance(ref, dict) else ref
                skipped.append(_skip(node, ('credentials', cred_type), 'credential',
                                     'uses the %s credential %r: its %s is stored in the credential, which '
                                     'the public API cannot read; check it in n8n under Credentials'
                                     % (cred_type, label, LLM_CREDENTIAL_TYPES[cred_type])))
    return new_node, changes, skipped


URL_PATH = ('parameters', 'url')


class NodeEntry(object):
    """One node of a workflow being planned: the node as listed, its rewritten copy (None while
    unchanged), its changes and its skipped entries. Converters update these."""

    def __init__(self, index, node, new_node, changes, skipped):
        self.index = index
        self.node = node
        self.new_node = new_node
        self.changes = changes
        self.skipped = skipped
        # The URL the node gets instead when its rule has a fallback and the conversion is refused
        # (set by plan_nodes), with the rule that gives it.
        self.fallback_url = None
        self.fallback_rule = None

    @property
    def name(self):
        return self.node.get('name') if isinstance(self.node, dict) else None

    @property
    def url_change(self):
        for change in self.changes:
            if change.path == URL_PATH:
                return change
        return None

    @property
    def current(self):
        """The node as it would be written."""
        return self.new_node if self.new_node is not None else self.node


class NodesPlan(object):
    """What rewriting a node list gives: new nodes (None when nothing changes), changes,
    skipped entries and the conversions made by converters."""

    def __init__(self, new_nodes, changes, skipped, conversions):
        self.new_nodes = new_nodes
        self.changes = changes
        self.skipped = skipped
        self.conversions = conversions


def plan_nodes(nodes, rules, connections=None, context=None, moves=None):
    """Plan a node list (with the workflow's connections, for converters)."""
    entries = []
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        new_node, node_changes, node_skipped = rewrite_node(node, rules, moves)
        entries.append(NodeEntry(index, node, new_node, node_changes, node_skipped))
    for entry in entries:
        _plan_fallback(entry, rules)
    conversions = []
    used = []
    for entry in entries:
        change = entry.url_change
        rule = change.rule if change is not None else None
        converter = rule.converter if rule is not None else None
        if converter is not None and converter not in used:
            used.append(converter)
            conversions.extend(converter.convert_workflow(
                entries, connections if isinstance(connections, dict) else {}, context))
    changes = [change for entry in entries for change in entry.changes]
    skipped = [entry_skip for entry in entries for entry_skip in entry.skipped]
    new_nodes = [entry.current for entry in entries]
    return NodesPlan(new_nodes if changes else None, changes, skipped, conversions)


def _plan_fallback(entry, rules):
    """Set ``entry.fallback_url`` when the rule that rewrote the node's URL has a fallback: the
    original URL rewritten by the fallbacks instead (only when every part rewritten has one)."""
    change = entry.url_change
    if change is None or change.rule is None or change.rule.fallback_rule is None:
        return
    moved = [rule.fallback_rule or rule for rule in rules]
    url = change.before
    if url.startswith('='):
        new_url, used, problem = rewrite_expression(url, moved)
    else:
        new_url, used = rewrite_url(url, moved)
        used, problem = [used], None
    if problem or new_url == url or not all(rule is not None and rule not in rules for rule in used):
        return
    entry.fallback_url = new_url
    entry.fallback_rule = change.rule.fallback_rule


class WorkflowPlan(object):
    """What to do with one listed workflow.

    ``action``: None (nothing to write), ``put`` (PUT the rewritten draft; publishes it when
    the workflow is active), ``publish`` (only the published version holds old URLs and the
    draft is already right: publish the draft), or ``skip`` (would change, but must not).
    """

    def __init__(self, workflow):
        self.workflow = workflow
        self.id = workflow.get('id')
        self.name = workflow.get('name')
        self.active = is_active(workflow)
        self.archived = bool(workflow.get('isArchived'))
        self.draft = has_unpublished_draft(workflow)
        self.action = None
        self.new_nodes = None
        self.changes = []
        self.published_changes = []
        self.skipped = []
        self.conversions = []

    @property
    def changed_nodes(self):
        names = []
        for change in self.changes + self.published_changes:
            if change.node not in names:
                names.append(change.node)
        return names

    def skip_entry(self, kind, reason, node=None, parameter=None):
        return {'id': self.id, 'name': self.name, 'node': node, 'parameter': parameter,
                'kind': kind, 'reason': reason}


def plan_workflow(workflow, rules, publish_drafts=False, context=None, moves=None):
    """Decide, from a listed workflow alone, what to write.

    ``context`` is handed to the rules' converters (see build_rules); ``moves`` re-point LLM
    credentials (see build_moves).
    """
    plan = WorkflowPlan(workflow)
    nodes_plan = plan_nodes(workflow.get('nodes'), rules, workflow.get('connections'), context, moves)
    new_nodes, changes, skipped = nodes_plan.new_nodes, nodes_plan.changes, nodes_plan.skipped
    published = workflow.get('activeVersion') if isinstance(workflow.get('activeVersion'), dict) else {}
    published_changes = []
    if plan.draft:
        published_plan = plan_nodes(published.get('nodes'), rules, published.get('connections'), context, moves)
        published_changes, published_skipped = published_plan.changes, published_plan.skipped
        seen = set((s['node'], s['parameter'], s['kind']) for s in skipped)
        skipped.extend(s for s in published_skipped if (s['node'], s['parameter'], s['kind']) not in seen)
    plan.changes = changes
    plan.published_changes = published_changes
    plan.new_nodes = new_nodes
    mentions = [s for s in skipped if s['kind'] not in ('credential', 'dynamic_url')]
    if plan.archived:
        if changes or published_changes or mentions:
            plan.action = 'skip'
            plan.skipped = [plan.skip_entry('archived', 'the workflow is archived; n8n refuses to update it '
                                                        '(unarchive it first to have it rewritten)')]
        return plan
    plan.skipped = [dict(s, id=plan.id, name=plan.name, reason=mask_text(s.get('reason'))) for s in skipped]
    if not changes and not published_changes:
        return plan
    if changes:
        bad = unsupported_node_keys(new_nodes)
        if bad:
            plan.action = 'skip'
            plan.skipped.append(plan.skip_entry(
                'unsupported_node_keys',
                'n8n\'s public API rejects a PUT of nodes with the keys %s; writing the workflow back would '
                'lose them, so it is left alone' % '; '.join('%s: %s' % (n, ', '.join(k)) for n, k in sorted(bad.items())),
                node=sorted(bad)[0]))
            return plan
    if plan.draft and not publish_drafts:
        plan.action = 'skip'
        plan.skipped.append(plan.skip_entry(
            'unpublished_draft',
            'the workflow is active and has unpublished edits (versionId %s, published %s); a PUT would publish '
            'them. Publish or discard the draft in n8n, or set publish_drafts: true'
            % (workflow.get('versionId'), workflow.get('activeVersionId'))))
        return plan
    plan.action = 'put' if changes else 'publish'
    if changes:
        pinned = workflow.get('pinData') if isinstance(workflow.get('pinData'), dict) else {}
        for conversion in nodes_plan.conversions:
            entry = dict(conversion, id=plan.id, name=plan.name)
            if conversion.get('node') in pinned:
                entry['notes'] = list(conversion.get('notes') or []) + [
                    'the workflow pins data of this node in the old shape; runs from the editor use it (production '
                    'runs do not), so unpin it or run the node again']
            plan.conversions.append(entry)
    return plan


def pending_rewrites(workflow, rules, context=None):
    """Old URLs left in a workflow's draft and, when active, its published version (nodes whose conversion
    is refused do not count: they are meant to keep their URL)."""
    changes = plan_nodes(workflow.get('nodes'), rules, workflow.get('connections'), context).changes
    published = workflow.get('activeVersion') if isinstance(workflow.get('activeVersion'), dict) else None
    if is_active(workflow) and published is not None:
        changes = changes + plan_nodes(published.get('nodes'), rules, published.get('connections'), context).changes
    return changes


def _nodes_by_name(nodes):
    return dict((node.get('name'), node) for node in nodes or [] if isinstance(node, dict))


def diff_entry(plan):
    """Ansible diff for one workflow: per node, before/after of each changed parameter, secrets masked
    (see ``_mask``)."""
    before = {}
    after = {}
    draft = _nodes_by_name(plan.workflow.get('nodes'))
    published = plan.workflow.get('activeVersion') if isinstance(plan.workflow.get('activeVersion'), dict) else {}
    sides = (('', plan.changes, draft, _nodes_by_name(plan.new_nodes)),
             ('published version: ', plan.published_changes, _nodes_by_name(published.get('nodes')), None))
    for label, changes, old_nodes, new_nodes in sides:
        for change in changes:
            key = label + (change.node or '')
            old_node = old_nodes.get(change.node)
            new_node = old_node if new_nodes is None else new_nodes.get(change.node)
            shown = mask_change(old_node, new_node, change.path, change.before, change.after)
            before.setdefault(key, {})[path_text(change.path)] = shown[0]
            after.setdefault(key, {})[path_text(change.path)] = shown[1]
    header = 'n8n workflow %s (%s)' % (plan.name, plan.id)
    return {'before_header': header, 'after_header': header, 'before': before, 'after': after}
