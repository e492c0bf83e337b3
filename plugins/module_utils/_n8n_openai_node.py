# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""One HTTP Request node converted on its own (``convert: openai_chat``): its Ollama URL, request and
body checked, its body converted in the shape its typeVersion stores it (v1/v2 ``bodyParametersJson``
as a string or an object, or ``bodyParametersUi``; v3/v4 ``jsonBody`` or ``bodyParameters``), and the
n8n Header Auth credential attached. Pure logic, no I/O; refusals raise ``Refusal``.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlsplit

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_body import (
    JsonParser, JsonStyle, JsStyle, NotWritable, ParseError, emit_js, emit_json, emit_keypairs, emit_object,
    keypair_tree, object_tree, parse_object_expression,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_fields import Refusal, map_body
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import Change, path_text

HEADER_AUTH = 'httpHeaderAuth'
HTTP_REQUEST = 'n8n-nodes-base.httpRequest'
TOOL_TYPES = frozenset(('n8n-nodes-base.httpRequestTool', '@n8n/n8n-nodes-langchain.toolHttpRequest'))
# Credential types of the HTTP Request node's own authentication (replaced by the header credential).
HTTP_AUTH_CREDENTIALS = frozenset(('httpBasicAuth', 'httpDigestAuth', 'httpHeaderAuth', 'httpQueryAuth',
                                   'httpCustomAuth', 'oAuth1Api', 'oAuth2Api'))

_OLLAMA_PATH = re.compile(r'/api/(generate|chat)(?=$|[?#\'"`\s{}])')
_URL_RUN = re.compile(r'https?://[^\s\'"`{}]*', re.I)


def ollama_endpoint(before, after):
    """``generate`` or ``chat``: the Ollama endpoint the old URL calls; raises Refusal."""
    if isinstance(before, str) and before.startswith('='):
        endpoints = set(found.group(1) for found in _OLLAMA_PATH.finditer(before))
        targets = _URL_RUN.findall(after)
        to_chat = [urlsplit(url).path.endswith('/chat/completions') for url in targets]
        if len(endpoints) != 1 or not targets or not all(to_chat):
            raise Refusal('the URL expression does not call exactly one Ollama endpoint (/api/generate or '
                          '/api/chat) that becomes .../chat/completions', 'parameters.url')
        return endpoints.pop()
    path = urlsplit(before).path
    for endpoint in ('generate', 'chat'):
        if path.endswith('/api/' + endpoint):
            if not urlsplit(after).path.endswith('/chat/completions'):
                raise Refusal('the new URL %s does not end with /chat/completions' % after, 'parameters.url')
            return endpoint
    raise Refusal('the URL does not call Ollama\'s /api/generate or /api/chat', 'parameters.url')


def _version(node):
    try:
        return float(node.get('typeVersion') or 1)
    except (TypeError, ValueError):
        raise Refusal('typeVersion %r is not a number' % (node.get('typeVersion'),))


def _header_names(params, version):
    """Header names the node sets itself (lower case), and whether a JSON header text is used."""
    names = []
    texts = []
    if version >= 3:
        if params.get('sendHeaders'):
            if params.get('specifyHeaders', 'keypair') == 'json':
                texts.append(params.get('jsonHeaders'))
            else:
                entries = (params.get('headerParameters') or {}).get('parameters') or []
                names.extend(entry.get('name') for entry in entries if isinstance(entry, dict))
    else:
        entries = (params.get('headerParametersUi') or {}).get('parameter') or []
        names.extend(entry.get('name') for entry in entries if isinstance(entry, dict))
        texts.append(params.get('headerParametersJson'))
    return [n.lower() for n in names if isinstance(n, str)], [json.dumps(t).lower() for t in texts if t]


def _check_request(params, version):
    """Refuse requests whose answer n8n would not hand on as one parsed JSON object."""
    options = params.get('options') if isinstance(params.get('options'), dict) else {}
    if version >= 3:
        method = params.get('method', 'GET')
        response = ((options.get('response') or {}).get('response') or {}) if isinstance(
            options.get('response'), dict) else {}
        if response.get('fullResponse'):
            raise Refusal('the node outputs the full response (status, headers and body), whose body paths would '
                          'change', 'parameters.options.response')
        if response.get('responseFormat') not in (None, 'json', 'autodetect'):
            raise Refusal('the node reads the answer as %s, not as JSON' % response.get('responseFormat'),
                          'parameters.options.response')
        if options.get('pagination'):
            raise Refusal('the node paginates', 'parameters.options.pagination')
    else:
        method = params.get('requestMethod', 'GET')
        if options.get('fullResponse'):
            raise Refusal('the node outputs the full response (status, headers and body), whose body paths would '
                          'change', 'parameters.options.fullResponse')
        if params.get('responseFormat') not in (None, 'json'):
            raise Refusal('the node reads the answer as %s, not as JSON' % params.get('responseFormat'),
                          'parameters.responseFormat')
    if method != 'POST':
        raise Refusal('the request method is %s, not POST' % method)


def _locate_body(params, version):
    """``(path, value, shape)`` of the node's body; shape is text, object or keypairs."""
    options = params.get('options') if isinstance(params.get('options'), dict) else {}
    if version >= 3:
        if not params.get('sendBody'):
            raise Refusal('the node sends no body')
        content_type = params.get('contentType', 'json')
        if content_type != 'json':
            raise Refusal('a %s body (raw, form or binary) cannot be converted' % content_type,
                          'parameters.contentType')
        specify = params.get('specifyBody', 'keypair')
        if specify == 'json':
            path = ('parameters', 'jsonBody')
            value = params.get('jsonBody')
        elif specify == 'keypair':
            body = params.get('bodyParameters')
            if not isinstance(body, dict):
                raise Refusal('the node has no body parameters', 'parameters.bodyParameters')
            return ('parameters', 'bodyParameters', 'parameters'), body.get('parameters'), 'keypairs'
        else:
            raise Refusal('a body given as %s cannot be converted' % specify, 'parameters.specifyBody')
    else:
        if options.get('bodyContentType') not in (None, 'json'):
            raise Refusal('a %s body cannot be converted' % options.get('bodyContentType'),
                          'parameters.options.bodyContentType')
        if not params.get('jsonParameters'):
            body = params.get('bodyParametersUi')
            if not isinstance(body, dict):
                raise Refusal('the node sends no body')
            return ('parameters', 'bodyParametersUi', 'parameter'), body.get('parameter'), 'keypairs'
        path = ('parameters', 'bodyParametersJson')
        value = params.get('bodyParametersJson')
    if isinstance(value, dict):
        return path, value, 'object'
    if not isinstance(value, str) or not value.strip() or value.strip() == '=':
        raise Refusal('the body is empty', path_text(path))
    return path, value, 'text'


def convert_body(value, shape, endpoint, ctx, where):
    """``(new_value, Mapped)`` for one body; raises Refusal."""
    try:
        if shape == 'keypairs':
            mapped = map_body(keypair_tree(value), endpoint, ctx)
            return emit_keypairs(mapped.tree), mapped
        if shape == 'object':
            mapped = map_body(object_tree(value), endpoint, ctx)
            return emit_object(mapped.tree), mapped
        if value.startswith('='):
            body = value[1:]
            if body.strip().startswith('{{'):
                try:
                    prefix, tree, suffix, parser, multiline = parse_object_expression(body)
                except ParseError as exc:
                    raise Refusal('dynamic body: it is built by JavaScript that is not a single plain object '
                                  'literal (%s)' % exc, where)
                mapped = map_body(tree, endpoint, ctx)
                return '=' + prefix + emit_js(mapped.tree, JsStyle(parser, multiline)) + suffix, mapped
            template = True
        else:
            body = value
            template = False
        lead = body[:len(body) - len(body.lstrip())]
        trail = body[len(body.rstrip()):]
        parser = JsonParser(body, template)
        try:
            tree = parser.parse()
        except ParseError as exc:
            if template:
                raise Refusal('dynamic body: it is not JSON with expressions only inside strings or in place of '
                              'values (%s)' % exc, where)
            raise Refusal('the body is not valid JSON (%s)' % exc, where)
        mapped = map_body(tree, endpoint, ctx)
        text = lead + emit_json(mapped.tree, JsonStyle(parser)) + trail
        return ('=' if template else '') + text, mapped
    except ParseError as exc:
        raise Refusal('the body cannot be read exactly (%s)' % exc, where)
    except NotWritable as exc:
        raise Refusal(str(exc), where)
    except Refusal as exc:
        if exc.parameter is None:
            exc.parameter = where
        raise


class NodeConversion(object):
    """A node converted on its own (before the reads of its answer are looked at)."""

    def __init__(self, entry, endpoint, node, changes, mapped):
        self.entry = entry
        self.endpoint = endpoint
        self.node = node
        self.changes = changes
        self.notes = list(mapped.notes)
        self.model_before = mapped.model_before
        self.model_after = mapped.model_after


def set_path(node, path, value):
    target = node
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def convert_node(entry, ctx):
    """Convert one node whose URL a convert rule rewrote; raises Refusal."""
    node = entry.node
    change = entry.url_change
    name = node.get('name')
    if node.get('type') in TOOL_TYPES:
        raise Refusal('a tool node\'s answer is read by an AI agent, which this conversion cannot follow')
    if node.get('type') != HTTP_REQUEST:
        raise Refusal('only HTTP Request nodes are converted')
    endpoint = ollama_endpoint(change.before, change.after)
    version = _version(node)
    params = node.get('parameters') or {}
    _check_request(params, version)
    credential = ctx.credential
    if credential is not None:
        names, texts = _header_names(params, version)
        header = ctx.header.lower()
        if header in names or any('"%s' % header in text for text in texts):
            raise Refusal('the node sets the %s header itself; it would clash with the credential' % ctx.header,
                          'parameters')
    path, value, shape = _locate_body(params, version)
    new_value, mapped = convert_body(value, shape, endpoint, ctx, path_text(path))
    new_node = copy.deepcopy(entry.new_node)
    new_params = new_node['parameters']
    changes = [change]
    before = get_value(node, path)
    set_path(new_node, path, new_value)
    changes.append(Change(name, path, before, new_value))
    conversion = NodeConversion(entry, endpoint, new_node, changes, mapped)
    if credential is not None:
        _attach_credential(node, new_node, version, credential, conversion)
    return conversion


def get_value(node, path):
    value = node
    for part in path:
        value = value[part]
    return copy.deepcopy(value)


def _attach_credential(node, new_node, version, credential, conversion):
    """Header Auth with the credential; the HTTP auth the node had before is replaced (and noted)."""
    name = node.get('name')
    params = new_node['parameters']
    old_params = node.get('parameters') or {}
    wanted = {'authentication': 'headerAuth'} if version < 2 else {
        'authentication': 'genericCredentialType', 'genericAuthType': HEADER_AUTH}
    previous = old_params.get('authentication')
    if previous not in (None, 'none'):
        old_refs = node.get('credentials') if isinstance(node.get('credentials'), dict) else {}
        same = (previous == wanted['authentication'] and old_params.get('genericAuthType', HEADER_AUTH) == HEADER_AUTH
                and isinstance(old_refs.get(HEADER_AUTH), dict) and old_refs[HEADER_AUTH].get('name') == credential['name']
                and credential['id'] in (None, old_refs[HEADER_AUTH].get('id')))
        if not same:
            settings = [str(old_params.get(k)) for k in ('authentication', 'genericAuthType', 'nodeCredentialType')
                        if old_params.get(k)]
            used = [ref.get('name') if isinstance(ref, dict) else ref for cred_type, ref in sorted(old_refs.items())
                    if cred_type in HTTP_AUTH_CREDENTIALS or cred_type == old_params.get('nodeCredentialType')]
            conversion.notes.append('its authentication (%s%s) was replaced by the credential %r'
                                    % ('/'.join(settings), ', credential %s' % ', '.join(repr(u) for u in used)
                                       if used else '', credential['name']))
    for key, value in wanted.items():
        if params.get(key) != value:
            conversion.changes.append(Change(name, ('parameters', key), old_params.get(key), value))
            params[key] = value
    if 'nodeCredentialType' in params:
        conversion.changes.append(Change(name, ('parameters', 'nodeCredentialType'),
                                         params.pop('nodeCredentialType'), None))
    credentials = new_node.get('credentials') if isinstance(new_node.get('credentials'), dict) else {}
    old_type = old_params.get('nodeCredentialType')
    for cred_type in list(credentials):
        if cred_type != HEADER_AUTH and (cred_type in HTTP_AUTH_CREDENTIALS or cred_type == old_type):
            conversion.changes.append(Change(name, ('credentials', cred_type), credentials.pop(cred_type), None))
    before = credentials.get(HEADER_AUTH)
    ref = dict(credential)
    credentials[HEADER_AUTH] = ref
    new_node['credentials'] = credentials
    conversion.changes.append(Change(name, ('credentials', HEADER_AUTH), copy.deepcopy(before), ref))
