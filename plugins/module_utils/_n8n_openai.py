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
with the reason. The terms used below:

* a *leaf* is a value kept from the source body (``Leaf``), with what it gives at run time:
  ``string`` (always a string, maybe built from expressions), ``value`` (an expression whose
  result can be anything), ``number``, ``bool`` or ``null``; ``New`` is a value this code adds;
* ``Obj``/``Arr`` are objects and arrays of the parsed body; a *front end* parses one body shape
  into them and an *emitter* writes the converted tree back in the same shape.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlsplit

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_expression import (
    ExpressionError, scan_expression_end,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import (
    CODE_NODE_TYPES, Change, RuleError, path_text,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import walk_strings

NAME = 'openai_chat'
HEADER_AUTH = 'httpHeaderAuth'
HTTP_REQUEST = 'n8n-nodes-base.httpRequest'
TOOL_TYPES = frozenset(('n8n-nodes-base.httpRequestTool', '@n8n/n8n-nodes-langchain.toolHttpRequest'))
WEBHOOK = 'n8n-nodes-base.webhook'
RESPOND_TO_WEBHOOK = 'n8n-nodes-base.respondToWebhook'
SKIP_KIND = 'not_converted'
CHAT_ROLES = ('system', 'user', 'assistant')
# Credential types of the HTTP Request node's own authentication (replaced by the header credential).
HTTP_AUTH_CREDENTIALS = frozenset(('httpBasicAuth', 'httpDigestAuth', 'httpHeaderAuth', 'httpQueryAuth',
                                   'httpCustomAuth', 'oAuth1Api', 'oAuth2Api'))

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


def watched_fields(kind):
    """Answer fields whose reads must all be understood before the answer's shape changes."""
    own = ('response',) if kind == 'generate' else ('message',)
    return own + tuple(COMMON_PATHS) + NO_COUNTERPART


class Refusal(Exception):
    """A node cannot be converted exactly; the message says why."""

    def __init__(self, reason, parameter=None):
        super(Refusal, self).__init__(reason)
        self.reason = reason
        self.parameter = parameter


class ParseError(ValueError):
    pass


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


# ------------------------------------------------------------------------------------------
# The body tree

MISSING = object()


class Leaf(object):
    """A value taken over from the source body, written back exactly as it was."""

    def __init__(self, src, kind, static=MISSING, code=None):
        self.src = src          # source text (JSON, JavaScript) or Python value (objects, key-value pairs)
        self.kind = kind        # string, value, number, bool, null
        self.static = static    # the value when known before run time
        self.code = code        # key-value pairs: the JavaScript of a single {{ }} expression

    @property
    def known(self):
        return self.static is not MISSING


class New(object):
    """A value this conversion adds."""

    def __init__(self, value):
        self.value = value


class Key(object):
    def __init__(self, name, src=None):
        self.name = name
        self.src = src          # as written in the source, None for a new key


class Obj(object):
    def __init__(self, pairs):
        self.pairs = pairs

    def names(self):
        return [key.name for key, dummy in self.pairs]

    def get(self, name):
        for key, value in self.pairs:
            if key.name == name:
                return value
        return None

    def key(self, name):
        for key, dummy in self.pairs:
            if key.name == name:
                return key
        return Key(name)


class Arr(object):
    def __init__(self, items):
        self.items = items


def _check_duplicates(pairs, where):
    seen = set()
    for key, dummy in pairs:
        if key.name in seen:
            raise ParseError('the key %r appears twice%s' % (key.name, where))
        seen.add(key.name)


# ------------------------------------------------------------------------------------------
# Front end: JSON text, plain or with n8n expressions ({{ }} in strings or as values)

_JSON_NUMBER = re.compile(r'-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?')
_JSON_ESCAPE = re.compile(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})')
_WS = ' \t\r\n'


class JsonParser(object):
    """JSON, where (``template``) ``{{ }}`` may stand inside a string or in place of a value."""

    def __init__(self, text, template):
        self.text = text
        self.template = template
        self.pos = 0
        # Layout between tokens (never inside strings or expressions), for JsonStyle.
        self.indent = None
        self.multiline = False
        self.spaced = {':': set(), ',': set()}

    def parse(self):
        value = self.value()
        self.skip()
        if self.pos != len(self.text):
            raise ParseError('text after the JSON value (at character %d)' % self.pos)
        return value

    def skip(self):
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1
        gap = self.text[start:self.pos]
        if '\n' in gap:
            self.multiline = True
            last = gap.rsplit('\n', 1)[1]
            if last and self.indent is None:
                self.indent = last

    def separator(self, char):
        """Step over ``char`` (":" or ","), noting whether whitespace follows it."""
        self.pos += 1
        self.spaced[char].add(self.text[self.pos:self.pos + 1] in tuple(_WS))

    def value(self):
        self.skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise ParseError('the JSON ends too early')
        if self.template and text.startswith('{{', pos):
            end = self._expression_end(pos + 2)
            self.pos = end + 2
            return Leaf(text[pos:end + 2], 'value')
        char = text[pos]
        if char == '{':
            return self.obj()
        if char == '[':
            return self.arr()
        if char == '"':
            return self.string()
        found = _JSON_NUMBER.match(text, pos)
        if found:
            self.pos = found.end()
            return Leaf(found.group(), 'number', json.loads(found.group()))
        for word, kind, static in (('true', 'bool', True), ('false', 'bool', False), ('null', 'null', None)):
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return Leaf(word, kind, static)
        raise ParseError('unexpected %r at character %d' % (char, pos))

    def _expression_end(self, start):
        try:
            return scan_expression_end(self.text, start)
        except ExpressionError as exc:
            raise ParseError('an expression cannot be parsed: %s' % exc)

    def string(self):
        text = self.text
        start = self.pos + 1
        i = start
        dynamic = False
        while i < len(text):
            char = text[i]
            if char == '"':
                raw = text[start:i]
                self.pos = i + 1
                static = MISSING if dynamic else json.loads('"%s"' % raw)
                return Leaf('"%s"' % raw, 'string', static)
            if char == '\\':
                if not _JSON_ESCAPE.match(text, i):
                    raise ParseError('a bad escape sequence in a string (at character %d)' % i)
                i += 6 if text[i + 1] == 'u' else 2
                continue
            if self.template and text.startswith('{{', i):
                i = self._expression_end(i + 2) + 2
                dynamic = True
                continue
            if char < ' ':
                raise ParseError('a control character inside a string (at character %d)' % i)
            i += 1
        raise ParseError('a string is not closed')

    def key(self):
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] != '"':
            raise ParseError('a key must be a string (at character %d)' % self.pos)
        leaf = self.string()
        if not leaf.known:
            raise ParseError('a key is computed at run time (%s)' % leaf.src)
        return Key(leaf.static, leaf.src)

    def obj(self):
        self.pos += 1
        pairs = []
        self.skip()
        if self.text.startswith('}', self.pos):
            self.pos += 1
            return Obj(pairs)
        while True:
            key = self.key()
            self.skip()
            if not self.text.startswith(':', self.pos):
                raise ParseError('":" expected after a key (at character %d)' % self.pos)
            self.separator(':')
            pairs.append((key, self.value()))
            self.skip()
            if self.text.startswith(',', self.pos):
                self.separator(',')
                continue
            if self.text.startswith('}', self.pos):
                self.pos += 1
                _check_duplicates(pairs, '')
                return Obj(pairs)
            raise ParseError('"," or "}" expected (at character %d)' % self.pos)

    def arr(self):
        self.pos += 1
        items = []
        self.skip()
        if self.text.startswith(']', self.pos):
            self.pos += 1
            return Arr(items)
        while True:
            items.append(self.value())
            self.skip()
            if self.text.startswith(',', self.pos):
                self.separator(',')
                continue
            if self.text.startswith(']', self.pos):
                self.pos += 1
                return Arr(items)
            raise ParseError('"," or "]" expected (at character %d)' % self.pos)


class JsonStyle(object):
    """How the source JSON was laid out (between its tokens), so the converted body looks alike."""

    def __init__(self, parser):
        self.indent = (parser.indent or '  ') if parser.multiline else None
        self.colon = ':' if parser.spaced[':'] == set([False]) else ': '
        self.comma = ',' if parser.spaced[','] == set([False]) else ', '


def emit_json(value, style, level=0):
    if isinstance(value, Leaf):
        return value.src
    if isinstance(value, New):
        return json_text(value.value)
    if isinstance(value, Key):
        return value.src if value.src is not None else json_text(value.name)
    if isinstance(value, Obj):
        parts = [emit_json(key, style) + style.colon + emit_json(item, style, level + 1) for key, item in value.pairs]
        return _wrap('{', '}', parts, style, level)
    parts = [emit_json(item, style, level + 1) for item in value.items]
    return _wrap('[', ']', parts, style, level)


def _wrap(left, right, parts, style, level):
    if not parts:
        return left + right
    if style.indent is None:
        return left + style.comma.join(parts) + right
    inner = style.indent * (level + 1)
    return left + '\n' + (',\n').join(inner + part for part in parts) + '\n' + style.indent * level + right


def json_text(value):
    """JSON for a new value (also a valid JavaScript literal)."""
    return json.dumps(value, ensure_ascii=False).replace('\u2028', '\\u2028').replace('\u2029', '\\u2029')


# ------------------------------------------------------------------------------------------
# Front end: one n8n expression that builds the body as a JavaScript object literal,
#   ={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}
# (or the object literal alone). Keys must be plain; values are literals, nested objects and
# arrays, or expressions whose extent is certain (strings and brackets balanced, no "/").

_IDENT = re.compile(r'[A-Za-z_$][A-Za-z0-9_$]*')
_JS_NUMBER = re.compile(r'-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![A-Za-z0-9_$.])')
_JS_SIMPLE_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f', 'v': '\v', '0': '\0',
                      '\\': '\\', "'": "'", '"': '"', '`': '`'}
_CLOSERS = {'(': ')', '[': ']', '{': '}'}


def decode_js_string(raw):
    """The value of a '...' or "..." literal's content, or MISSING for escapes not handled here."""
    out = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != '\\':
            out.append(char)
            i += 1
            continue
        nxt = raw[i + 1:i + 2]
        if nxt in _JS_SIMPLE_ESCAPES and not (nxt == '0' and raw[i + 2:i + 3].isdigit()):
            out.append(_JS_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == 'u' and re.match(r'[0-9a-fA-F]{4}', raw[i + 2:i + 6]):
            out.append(chr(int(raw[i + 2:i + 6], 16)))
            i += 6
        elif nxt == 'x' and re.match(r'[0-9a-fA-F]{2}', raw[i + 2:i + 4]):
            out.append(chr(int(raw[i + 2:i + 4], 16)))
            i += 4
        else:
            return MISSING
    return ''.join(out)


class JsParser(object):
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.quote = None       # quote character of the first string literal
        self.key_style = None   # 'ident' or the quote of the first key
        self.multiline = False  # a line break between tokens of the object literal

    def skip(self):
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1
        if '\n' in self.text[start:self.pos]:
            self.multiline = True

    def at_end_of_value(self):
        self.skip()
        return self.pos < len(self.text) and self.text[self.pos] in ',}])'

    def string_literal(self):
        """A '...' or "..." literal at pos: (source, value or MISSING)."""
        text = self.text
        quote = text[self.pos]
        i = self.pos + 1
        while i < len(text):
            char = text[i]
            if char == '\\':
                i += 2
                continue
            if char == quote:
                src = text[self.pos:i + 1]
                self.pos = i + 1
                if self.quote is None:
                    self.quote = quote
                return src, decode_js_string(src[1:-1])
            if char in '\n\r':
                break
            i += 1
        raise ParseError('a string literal is not closed')

    def value(self):
        self.skip()
        text, start = self.text, self.pos
        if start >= len(text):
            raise ParseError('the object literal ends too early')
        char = text[start]
        result = None
        try:
            if char == '{':
                result = self.obj()
            elif char == '[':
                result = self.arr()
            elif char in '\'"':
                src, static = self.string_literal()
                result = Leaf(src, 'string', static)
            else:
                found = _JS_NUMBER.match(text, start)
                word = _IDENT.match(text, start)
                if found:
                    self.pos = found.end()
                    result = Leaf(found.group(), 'number', json.loads(found.group()))
                elif word and word.group() in ('true', 'false', 'null'):
                    self.pos = word.end()
                    static = {'true': True, 'false': False, 'null': None}[word.group()]
                    result = Leaf(word.group(), 'null' if static is None else 'bool', static)
        except ParseError:
            result = None
        if result is not None and self.at_end_of_value():
            return result
        # Anything else (or a literal followed by an operator) is an expression up to the next "," or
        # closing bracket at its own level.
        self.pos = start
        end = self.expression_end(start)
        src = text[start:end].rstrip()
        if not src:
            raise ParseError('a value is missing (at character %d)' % start)
        self.pos = start + len(src)
        kind = 'string' if src.startswith('`') and src.endswith('`') and self._one_template(src) else 'value'
        return Leaf(src, kind)

    @staticmethod
    def _one_template(src):
        """Whether ``src`` is a single template literal (always a string)."""
        try:
            return JsParser(src).template_end(1) == len(src)
        except ParseError:
            return False

    def template_end(self, i):
        """Index after the closing backquote of a template literal whose backquote is at i-1."""
        text = self.text
        while i < len(text):
            char = text[i]
            if char == '\\':
                i += 2
                continue
            if char == '`':
                return i + 1
            if text.startswith('${', i):
                i = self.code_end(i + 2, '}') + 1
                continue
            i += 1
        raise ParseError('a template literal is not closed')

    def code_end(self, i, closer):
        """Index of ``closer`` ending JavaScript code that starts at i (brackets balanced)."""
        text = self.text
        stack = []
        while i < len(text):
            char = text[i]
            if char in '\'"':
                self.pos = i
                self.string_literal()
                i = self.pos
                continue
            if char == '`':
                i = self.template_end(i + 1)
                continue
            if char == '/':
                raise ParseError('"/" in an expression (a regular expression, a division or a comment)')
            if char in _CLOSERS:
                stack.append(_CLOSERS[char])
            elif char in ')]}':
                if not stack:
                    if char == closer or closer is None:
                        return i
                    raise ParseError('unbalanced %r' % char)
                if stack.pop() != char:
                    raise ParseError('unbalanced %r' % char)
            elif char == ',' and not stack and closer is None:
                return i
            i += 1
        raise ParseError('an expression is not closed')

    def expression_end(self, i):
        return self.code_end(i, None)

    def key(self):
        self.skip()
        text = self.text
        if self.pos >= len(text):
            raise ParseError('the object literal ends too early')
        char = text[self.pos]
        if char in '\'"':
            src, name = self.string_literal()
            if name is MISSING:
                raise ParseError('a key with an unusual escape sequence')
            style = char
        else:
            word = _IDENT.match(text, self.pos)
            if not word:
                raise ParseError('only plain keys are supported (no computed keys, spreads or numbers), at '
                                 'character %d' % self.pos)
            self.pos = word.end()
            src, name, style = word.group(), word.group(), 'ident'
        if self.key_style is None:
            self.key_style = style
        self.skip()
        if not text.startswith(':', self.pos):
            raise ParseError('":" expected after the key %s (shorthand properties and methods are not supported)'
                             % src)
        self.pos += 1
        return Key(name, src)

    def obj(self):
        self.pos += 1
        pairs = []
        while True:
            self.skip()
            if self.text.startswith('}', self.pos):
                self.pos += 1
                _check_duplicates(pairs, ' in the object literal')
                return Obj(pairs)
            if self.text.startswith('...', self.pos):
                raise ParseError('a spread (...) in the object literal')
            key = self.key()
            pairs.append((key, self.value()))
            self.skip()
            if self.text.startswith(',', self.pos):
                self.pos += 1
            elif not self.text.startswith('}', self.pos):
                raise ParseError('"," or "}" expected (at character %d)' % self.pos)

    def arr(self):
        self.pos += 1
        items = []
        while True:
            self.skip()
            if self.text.startswith(']', self.pos):
                self.pos += 1
                return Arr(items)
            if self.text.startswith('...', self.pos):
                raise ParseError('a spread (...) in an array literal')
            items.append(self.value())
            self.skip()
            if self.text.startswith(',', self.pos):
                self.pos += 1
            elif not self.text.startswith(']', self.pos):
                raise ParseError('"," or "]" expected (at character %d)' % self.pos)


_STRINGIFY = re.compile(r'JSON\s*\.\s*stringify\s*\(')
_SPACE_ARG = re.compile(r'\s*,\s*(?:null|undefined)\s*(?:,\s*(?:[0-9]{1,2}|\'[ \t]*\'|"[ \t]*"))?\s*')


def parse_object_expression(body):
    """Split ``{{ JSON.stringify(OBJ) }}`` (or ``{{ OBJ }}``): (prefix, tree, suffix, parser, multiline).

    ``body`` is the parameter without its ``=``. Raises ParseError for anything else.
    """
    start = len(body) - len(body.lstrip())
    if not body.startswith('{{', start):
        raise ParseError('not a single expression')
    try:
        end = scan_expression_end(body, start + 2)
    except ExpressionError as exc:
        raise ParseError(str(exc))
    if body[end + 2:].strip():
        raise ParseError('text after the expression')
    parser = JsParser(body)
    parser.pos = start + 2
    parser.skip()
    stringify = _STRINGIFY.match(body, parser.pos)
    if stringify:
        parser.pos = stringify.end()
        parser.skip()
    if not body.startswith('{', parser.pos):
        raise ParseError('the expression does more than write an object literal')
    obj_start = parser.pos
    parser.multiline = False
    tree = parser.obj()
    obj_end = parser.pos
    rest = body[obj_end:end]
    if stringify:
        args = _SPACE_ARG.match(rest)
        after = rest[args.end():] if args else rest
        if not re.match(r'\s*\)\s*;?\s*$', after):
            raise ParseError('JSON.stringify has arguments other than the object (a replacer?)')
    elif not re.match(r'\s*;?\s*$', rest):
        raise ParseError('the expression does more than write an object literal')
    return body[:obj_start], tree, body[obj_end:], parser, parser.multiline


class JsStyle(object):
    def __init__(self, parser, multiline):
        self.quote = parser.quote or '"'
        self.key_style = parser.key_style or 'ident'
        self.indent = '  ' if multiline else None
        self.colon = ': '
        self.comma = ', '


def js_string(value, quote='"'):
    """A JavaScript string literal for ``value``."""
    if quote == '"':
        return json_text(value)
    out = []
    for char in value:
        if char == "'":
            out.append("\\'")
        elif char == '"':
            out.append('"')
        else:
            out.append(json_text(char)[1:-1])
    return "'" + ''.join(out) + "'"


def emit_js(value, style, level=0):
    if isinstance(value, Leaf):
        return value.src
    if isinstance(value, New):
        if isinstance(value.value, str):
            return js_string(value.value, style.quote)
        return json_text(value.value)
    if isinstance(value, Key):
        if value.src is not None:
            return value.src
        if style.key_style == 'ident' and _IDENT.fullmatch(value.name):
            return value.name
        return js_string(value.name, style.quote if style.key_style == 'ident' else style.key_style)
    if isinstance(value, Obj):
        parts = [emit_js(key, style) + style.colon + emit_js(item, style, level + 1) for key, item in value.pairs]
        return _wrap('{', '}', parts, style, level)
    return _wrap('[', ']', [emit_js(item, style, level + 1) for item in value.items], style, level)


# ------------------------------------------------------------------------------------------
# Front end: objects (bodyParametersJson / jsonBody stored as an object) and key-value pairs.
# Their strings are parameters of their own: a leading "=" makes an n8n expression.

def single_expression_code(value):
    """The JavaScript of a parameter that is exactly one ``={{ ... }}``, or None."""
    if not isinstance(value, str) or not value.startswith('='):
        return None
    body = value[1:]
    start = len(body) - len(body.lstrip())
    if not body.startswith('{{', start):
        return None
    try:
        end = scan_expression_end(body, start + 2)
    except ExpressionError:
        return None
    if body[end + 2:].strip():
        return None
    return body[start + 2:end]


def parameter_leaf(value):
    """A leaf for a parameter value as n8n stores it (strings may be expressions)."""
    if isinstance(value, str):
        if value.startswith('='):
            code = single_expression_code(value)
            if code is not None:
                return Leaf(value, 'value', code=code)
            return Leaf(value, 'string')        # text with {{ }} inside: always a string
        return Leaf(value, 'string', value)
    if isinstance(value, bool):
        return Leaf(value, 'bool', value)
    if isinstance(value, (int, float)):
        return Leaf(value, 'number', value)
    if value is None:
        return Leaf(value, 'null', None)
    raise ParseError('unexpected value %r' % (value,))


def object_tree(value, depth=0):
    if depth > 32:
        raise ParseError('nested too deeply')
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith('='):
                raise ParseError('a key computed at run time (%r)' % (key,))
            pairs.append((Key(key, key), object_tree(item, depth + 1)))
        return Obj(pairs)
    if isinstance(value, list):
        return Arr([object_tree(item, depth + 1) for item in value])
    return parameter_leaf(value)


def emit_object(value):
    if isinstance(value, Leaf):
        return copy.deepcopy(value.src)
    if isinstance(value, New):
        return value.value
    if isinstance(value, Obj):
        return dict((key.name, emit_object(item)) for key, item in value.pairs)
    return [emit_object(item) for item in value.items]


def keypair_tree(entries):
    if not isinstance(entries, list) or not entries:
        raise ParseError('no body parameters')
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - set(('name', 'value')):
            raise ParseError('a body parameter that is not a plain name and value (%r)' % (entry,))
        name = entry.get('name')
        if not isinstance(name, str) or not name or name.startswith('='):
            raise ParseError('a body parameter name that is empty or computed at run time (%r)' % (name,))
        pairs.append((Key(name, name), parameter_leaf(entry.get('value', ''))))
    _check_duplicates(pairs, ' among the body parameters')
    return Obj(pairs)


def emit_keypairs(tree):
    """Key-value pairs again; structured values become one ``={{ ... }}`` expression each."""
    return [{'name': key.name, 'value': _keypair_value(item)} for key, item in tree.pairs]


def _keypair_value(value):
    if isinstance(value, Leaf):
        return value.src
    if isinstance(value, New) and isinstance(value.value, str):
        return value.value
    return '={{ %s }}' % _keypair_js(value)


def _keypair_js(value):
    if isinstance(value, Obj):
        return '{' + ', '.join('%s: %s' % (json_text(key.name), _keypair_js(item)) for key, item in value.pairs) + '}'
    if isinstance(value, Arr):
        return '[' + ', '.join(_keypair_js(item) for item in value.items) + ']'
    if isinstance(value, New):
        text = json_text(value.value)
        if '{{' in text or '}}' in text:
            raise Refusal('a value holds "{{" or "}}", which cannot go into an n8n expression unchanged')
        return text
    if value.code is not None:
        return '(%s)' % value.code.strip()
    if value.kind == 'string' and value.known and isinstance(value.src, str):
        text = json_text(value.static)
        if '{{' in text or '}}' in text:
            raise Refusal('a value holds "{{" or "}}", which cannot go into an n8n expression unchanged')
        return text
    if value.kind in ('number', 'bool', 'null'):
        return json_text(value.static)
    raise Refusal('the key-value body parameter %r mixes text and expressions; it cannot be moved into a '
                  'message exactly' % (value.src,))


# ------------------------------------------------------------------------------------------
# The mapping: Ollama generate/chat request -> OpenAI chat completions request

class Mapped(object):
    def __init__(self, tree, notes, model_before, model_after):
        self.tree = tree
        self.notes = notes
        self.model_before = model_before
        self.model_after = model_after


def _describe(leaf):
    if isinstance(leaf, Leaf):
        return leaf.src if isinstance(leaf.src, str) else json.dumps(leaf.src)
    return 'an object or array'


def _string_leaf(value, what):
    if not isinstance(value, Leaf) or value.kind not in ('string', 'value'):
        raise Refusal('%s is not a string (%s)' % (what, _describe(value)))
    return value


def _number_leaf(value, what):
    if not isinstance(value, Leaf) or value.kind not in ('number', 'value'):
        raise Refusal('%s is not a number (%s)' % (what, _describe(value)))
    return value


def map_model(tree, ctx):
    leaf = tree.get('model')
    if leaf is None:
        raise Refusal('the body has no model')
    if not isinstance(leaf, Leaf) or leaf.kind not in ('string', 'value'):
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
        if not isinstance(system, Leaf) or system.kind != 'string':
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


def map_body(tree, kind, ctx):
    """The OpenAI request for an Ollama ``kind`` (generate, chat) request; raises Refusal."""
    if not isinstance(tree, Obj):
        raise Refusal('the body is not a JSON object')
    allowed = GENERATE_KEYS if kind == 'generate' else CHAT_KEYS
    for name in tree.names():
        if name not in allowed:
            raise Refusal('the body has %s: %s' % (name, WHY_NOT.get(name, 'an unknown field, not converted')))
    notes = []
    # What can never be converted is reported before what model_map could fix.
    messages = _messages_from_generate(tree) if kind == 'generate' else _messages_from_chat(tree)
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
    elif isinstance(stream, Leaf) and stream.kind == 'bool' and stream.static is False:
        pairs.append((tree.key('stream'), stream))
    elif isinstance(stream, Leaf) and stream.kind == 'value':
        pairs.append((tree.key('stream'), stream))
    elif isinstance(stream, Leaf) and stream.kind == 'bool':
        raise Refusal('stream is true: n8n reads Ollama\'s streamed lines, LiteLLM would stream events instead')
    else:
        raise Refusal('stream is not a boolean (%s)' % _describe(stream))
    if tree.get('keep_alive') is not None:
        notes.append('dropped keep_alive: a server-side setting of Ollama (how long the model stays loaded)')
    return Mapped(Obj(pairs), notes, model_before, model_after)


# ------------------------------------------------------------------------------------------
# One node

_OLLAMA_PATH = re.compile(r'/api/(generate|chat)(?=$|[?#\'"`\s{}])')
_URL_RUN = re.compile(r'https?://[^\s\'"`{}]*', re.I)


def endpoint_kind(before, after):
    """``generate`` or ``chat``: the Ollama endpoint the old URL calls; raises Refusal."""
    if isinstance(before, str) and before.startswith('='):
        kinds = set(found.group(1) for found in _OLLAMA_PATH.finditer(before))
        targets = _URL_RUN.findall(after)
        to_chat = [urlsplit(url).path.endswith('/chat/completions') for url in targets]
        if len(kinds) != 1 or not targets or not all(to_chat):
            raise Refusal('the URL expression does not call exactly one Ollama endpoint (/api/generate or '
                          '/api/chat) that becomes .../chat/completions', 'parameters.url')
        return kinds.pop()
    path = urlsplit(before).path
    for kind in ('generate', 'chat'):
        if path.endswith('/api/' + kind):
            if not urlsplit(after).path.endswith('/chat/completions'):
                raise Refusal('the new URL %s does not end with /chat/completions' % after, 'parameters.url')
            return kind
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


def convert_body(value, shape, kind, ctx, where):
    """``(new_value, Mapped)`` for one body; raises Refusal."""
    try:
        if shape == 'keypairs':
            mapped = map_body(keypair_tree(value), kind, ctx)
            return emit_keypairs(mapped.tree), mapped
        if shape == 'object':
            mapped = map_body(object_tree(value), kind, ctx)
            return emit_object(mapped.tree), mapped
        if value.startswith('='):
            body = value[1:]
            if body.strip().startswith('{{'):
                try:
                    prefix, tree, suffix, parser, multiline = parse_object_expression(body)
                except ParseError as exc:
                    raise Refusal('dynamic body: it is built by JavaScript that is not a single plain object '
                                  'literal (%s)' % exc, where)
                mapped = map_body(tree, kind, ctx)
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
        mapped = map_body(tree, kind, ctx)
        text = lead + emit_json(mapped.tree, JsonStyle(parser)) + trail
        return ('=' if template else '') + text, mapped
    except ParseError as exc:
        raise Refusal('the body cannot be read exactly (%s)' % exc, where)
    except Refusal as exc:
        if exc.parameter is None:
            exc.parameter = where
        raise


class NodeConversion(object):
    """A node converted on its own (before the reads of its answer are looked at)."""

    def __init__(self, entry, kind, node, changes, mapped):
        self.entry = entry
        self.kind = kind
        self.node = node
        self.changes = changes
        self.notes = list(mapped.notes)
        self.model_before = mapped.model_before
        self.model_after = mapped.model_after


def _set_path(node, path, value):
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
    kind = endpoint_kind(change.before, change.after)
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
    new_value, mapped = convert_body(value, shape, kind, ctx, path_text(path))
    new_node = copy.deepcopy(entry.new_node)
    new_params = new_node['parameters']
    changes = [change]
    before = get_value(node, path)
    _set_path(new_node, path, new_value)
    changes.append(Change(name, path, before, new_value))
    conversion = NodeConversion(entry, kind, new_node, changes, mapped)
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
            kinds = [str(old_params.get(k)) for k in ('authentication', 'genericAuthType', 'nodeCredentialType')
                     if old_params.get(k)]
            used = [ref.get('name') if isinstance(ref, dict) else ref for cred_type, ref in sorted(old_refs.items())
                    if cred_type in HTTP_AUTH_CREDENTIALS or cred_type == old_params.get('nodeCredentialType')]
            conversion.notes.append('its authentication (%s%s) was replaced by the credential %r'
                                    % ('/'.join(kinds), ', credential %s' % ', '.join(repr(u) for u in used)
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


def apply_credential(nodes, changes, ref):
    """Put the resolved credential ``{id, name}`` into planned nodes and their changes."""
    converted = set()
    for change in changes:
        if change.path == ('credentials', HEADER_AUTH) and isinstance(change.after, dict):
            change.after.update(ref)
            converted.add(change.node)
    for node in nodes or []:
        if isinstance(node, dict) and node.get('name') in converted:
            node['credentials'][HEADER_AUTH] = dict(ref)


# ------------------------------------------------------------------------------------------
# Reads of the answer: in the nodes right after a converted node ($json ...), and anywhere by name

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


class Segment(object):
    def __init__(self, start, end, name, optional):
        self.start = start
        self.end = end
        self.name = name
        self.optional = optional


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


def classify(segments, kind):
    """What a read of the answer becomes: ('rewrite', n, new path), ('refuse', why), ('model',), ('leave',)."""
    if not segments:
        return ('refuse', 'reads the whole answer, whose shape changes')
    first = segments[0].name
    if kind == 'chat' and first == 'message':
        if len(segments) > 1 and segments[1].name in ('content', 'role'):
            return ('rewrite', 2, ('choices', 0, 'message', segments[1].name))
        return ('refuse', 'reads message%s, which has no exact counterpart in the OpenAI answer'
                % ('.' + str(segments[1].name) if len(segments) > 1 else ' as a whole'))
    if first in ANSWER_PATHS[kind]:
        return ('rewrite', 1, ANSWER_PATHS[kind][first])
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


def scan_string(value, code_kind, input_kind, names):
    """Reads of converted answers in one string parameter.

    ``code_kind``: 'js' (a Code node's code), 'python', or None (a parameter, JavaScript only inside
    ``={{ }}``). ``input_kind``: the endpoint kind behind ``$json`` (None when the node is not right
    after a converted node). ``names``: {converted node name: kind}.
    """
    scan = StringScan()
    if code_kind == 'python' and not value.startswith('='):
        if input_kind is not None:
            for field in watched_fields(input_kind):
                if re.search(r'\b%s\b' % re.escape(field), value):
                    scan.problems.append(('input', 'its Python code reads %s, which cannot be rewritten' % field))
                    break
        for name in names:
            if re.search(r'[\'"]%s[\'"]' % re.escape(name), value):
                scan.problems.append((name, 'Python code refers to it by name, which cannot be rewritten'))
        return scan
    regions = code_regions(value, code_kind == 'js')
    if regions is None:
        mentioned = [name for name in names if name in value]
        if input_kind is not None and any(re.search(r'\b%s\b' % re.escape(f), value)
                                          for f in watched_fields(input_kind)):
            mentioned.append('input')
        for owner in mentioned:
            scan.problems.append((owner, 'an expression that cannot be parsed mentions the answer (%s)'
                                  % value[:80]))
        return scan
    for start, end in regions:
        _scan_region(value, start, end, input_kind, names, scan)
    return scan


def _scan_region(value, start, end, input_kind, names, scan):
    code = value[:end]
    covered = set()
    accessors = []
    if input_kind is not None:
        for found in _INPUT_ACCESSOR.finditer(code, start):
            accessors.append((found, 'input', input_kind))
    for found in _NAMED_ACCESSOR.finditer(code, start):
        name = _named(found)
        accessors.append((found, name if name in names else None, names.get(name)))
    named_spans = set()
    for found, owner, kind in accessors:
        segments = read_path(code, found.end())
        for segment in segments:
            covered.update(range(segment.start, segment.end))
        if owner is None:
            continue
        if owner != 'input':
            named_spans.add(found.start())
        verdict = classify(segments, kind)
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
    if input_kind is not None:
        fields = '|'.join(re.escape(f) for f in watched_fields(input_kind))
        pattern = re.compile(r'(?:\?\.|\.)\s*(?P<a>%s)(?![\w$])|\[\s*([\'"`])(?P<b>%s)\2\s*\]' % (fields, fields))
        for found in pattern.finditer(code, start):
            where = found.start('a') if found.group('a') else found.start('b')
            if where not in covered:
                scan.problems.append(('input', 'reads %s in a way that cannot be rewritten (%s)'
                                      % (found.group('a') or found.group('b'),
                                         _excerpt(code, found.start(), found.end()))))


def _code_kind(node, path):
    if node.get('type') not in CODE_NODE_TYPES:
        return None
    if path[-1] == 'pythonCode' or (node.get('parameters') or {}).get('language') in ('python', 'pythonNative'):
        return 'python'
    return 'js'


def main_targets(connections, name):
    """Names of the nodes the main outputs of ``name`` lead to."""
    out = []
    outputs = (connections.get(name) or {}).get('main') if isinstance(connections.get(name), dict) else None
    for output in outputs or []:
        for link in output or []:
            if isinstance(link, dict) and link.get('node') not in out:
                out.append(link.get('node'))
    return out


def main_sources(connections):
    """{target node name: [source node names]} over the main connections."""
    sources = {}
    for source in connections:
        for target in main_targets(connections, source):
            sources.setdefault(target, [])
            if source not in sources[target]:
                sources[target].append(source)
    return sources


class ReadAnalysis(object):
    def __init__(self):
        self.problems = {}        # converted node name -> reason
        self.edits = {}           # (node index, path) -> [Edit]
        self.model_reads = {}     # converted node name -> [reader node names]


def analyze_reads(entries, converted, refused, connections):
    """Reads of the converted nodes' answers across the workflow, given who is converted."""
    analysis = ReadAnalysis()
    by_name = dict((conv.entry.name, conv) for conv in converted.values())
    names = dict((name, conv.kind) for name, conv in by_name.items())
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
        kinds = set(by_name[s].kind for s in feeding)
        if len(kinds) > 1:
            for name in feeding:
                problem(name, 'node %r receives the answers of both a generate and a chat node' % reader)
        input_kind = kinds.pop() if len(kinds) == 1 else None
        has_input_reads = False
        for path, text in walk_strings(node['parameters'], ('parameters',)):
            scan = scan_string(text, _code_kind(node, path), input_kind, names)
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


def _apply_edits(text, edits):
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


def _whole_answer_notes(entries, conversion, connections):
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


class OpenAIChatConverter(object):
    """``convert: openai_chat`` (see the module's documentation)."""

    name = NAME

    @staticmethod
    def validate_rule(rule):
        label = 'rewrites[%d]' % rule.index
        if rule.regex:
            if '\\' not in rule.target and not urlsplit(rule.target).path.endswith('/chat/completions'):
                raise RuleError('%s: with convert: %s, to must be an OpenAI chat completions URL (.../chat/completions)'
                                % (label, NAME))
            return
        if not urlsplit(rule.target).path.endswith('/chat/completions'):
            raise RuleError('%s: with convert: %s, to must be an OpenAI chat completions URL (.../chat/completions), '
                            'got %s' % (label, NAME, rule.target))
        path = urlsplit(rule.source).path
        if not (path.endswith('/api/generate') or path.endswith('/api/chat')):
            raise RuleError('%s: with convert: %s, from must be an Ollama /api/generate or /api/chat URL, got %s'
                            % (label, NAME, rule.source))

    def convert_workflow(self, entries, connections, context):
        ctx = context if context is not None else Context()
        candidates = [e for e in entries if e.url_change is not None and e.url_change.rule is not None
                      and e.url_change.rule.convert == NAME]
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
                entry.skipped.append({'node': entry.name, 'parameter': exc.parameter, 'kind': SKIP_KIND,
                                      'reason': '%s; the node is left as it is (URL included), and so are the nodes '
                                                'that read its answer' % exc.reason})
                continue
            # The rule's fallback: only the URL moves, the request stays in Ollama's shape.
            entry.new_node = copy.deepcopy(entry.node)
            _set_path(entry.new_node, url_change.path, fallback)
            entry.changes.append(Change(entry.name, url_change.path, url_change.before, fallback, entry.fallback_rule))
            entry.skipped.append({'node': entry.name, 'parameter': exc.parameter, 'kind': SKIP_KIND,
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
            after = _apply_edits(before, edits)
            _set_path(entry.new_node, path, after)
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
            notes.extend(_whole_answer_notes(entries, conv, connections))
            report.append({'node': conv.entry.name, 'endpoint': conv.kind,
                           'model': {'before': conv.model_before,
                                     'after': conv.model_after if conv.model_after is not None else conv.model_before},
                           'notes': notes, 'downstream': downstream[conv.entry.name]})
        return report

