# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The body of an n8n HTTP Request node as a tree, with its front ends and emitters. Pure logic, no I/O.

A body is parsed, in the shape n8n stores it, into a tree, and the tree is written back in the
same shape with every value taken over exactly as it was written, n8n expressions included:

* a *leaf* is a value kept from the source body (``Leaf``), with the type of what it gives at run
  time (``value_type``): ``string`` (always a string, maybe built from expressions), ``value`` (an
  expression whose result can be anything), ``number``, ``bool`` or ``null``; ``New`` is a value
  added by the caller;
* ``Obj``/``Arr`` are objects and arrays of the parsed body; a *front end* parses one body shape
  into them (JSON text, one JavaScript object literal in an expression, an object, key-value
  pairs) and an *emitter* writes a tree back in the same shape.
"""

from __future__ import annotations

import copy
import json
import re

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_expression import (
    ExpressionError, scan_expression_end,
)


class ParseError(ValueError):
    """A body cannot be read exactly; the message says why."""


class NotWritable(ValueError):
    """A tree cannot be written back in the body's shape exactly; the message says why."""


# ------------------------------------------------------------------------------------------
# The tree

MISSING = object()


class Leaf(object):
    """A value taken over from the source body, written back exactly as it was."""

    def __init__(self, src, value_type, static=MISSING, code=None):
        self.src = src          # source text (JSON, JavaScript) or Python value (objects, key-value pairs)
        self.value_type = value_type  # string, value, number, bool, null
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
        for word, value_type, static in (('true', 'bool', True), ('false', 'bool', False), ('null', 'null', None)):
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return Leaf(word, value_type, static)
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

    def items(self, close, item):
        """What ``item`` reads, up to ``close``, comma-separated; the opening bracket is at ``self.pos``."""
        self.pos += 1
        found = []
        self.skip()
        if self.text.startswith(close, self.pos):
            self.pos += 1
            return found
        while True:
            found.append(item())
            self.skip()
            if self.text.startswith(',', self.pos):
                self.separator(',')
                continue
            if self.text.startswith(close, self.pos):
                self.pos += 1
                return found
            raise ParseError('"," or "%s" expected (at character %d)' % (close, self.pos))

    def pair(self):
        key = self.key()
        self.skip()
        if not self.text.startswith(':', self.pos):
            raise ParseError('":" expected after a key (at character %d)' % self.pos)
        self.separator(':')
        return key, self.value()

    def obj(self):
        pairs = self.items('}', self.pair)
        _check_duplicates(pairs, '')
        return Obj(pairs)

    def arr(self):
        return Arr(self.items(']', self.value))


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
        value_type = 'string' if src.startswith('`') and src.endswith('`') and self._one_template(src) else 'value'
        return Leaf(src, value_type)

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

    def items(self, close, item, where):
        """What ``item`` reads, up to ``close``, comma-separated; a trailing comma is allowed, a spread is not.
        The opening bracket is at ``self.pos``."""
        self.pos += 1
        found = []
        while True:
            self.skip()
            if self.text.startswith(close, self.pos):
                self.pos += 1
                return found
            if self.text.startswith('...', self.pos):
                raise ParseError('a spread (...) in %s' % where)
            found.append(item())
            self.skip()
            if self.text.startswith(',', self.pos):
                self.pos += 1
            elif not self.text.startswith(close, self.pos):
                raise ParseError('"," or "%s" expected (at character %d)' % (close, self.pos))

    def pair(self):
        key = self.key()
        return key, self.value()

    def obj(self):
        pairs = self.items('}', self.pair, 'the object literal')
        _check_duplicates(pairs, ' in the object literal')
        return Obj(pairs)

    def arr(self):
        return Arr(self.items(']', self.value, 'an array literal'))


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
    """Key-value pairs again; structured values become one ``={{ ... }}`` expression each. Raises
    NotWritable for a value that cannot go into such an expression unchanged."""
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
            raise NotWritable('a value holds "{{" or "}}", which cannot go into an n8n expression unchanged')
        return text
    if value.code is not None:
        return '(%s)' % value.code.strip()
    if value.value_type == 'string' and value.known and isinstance(value.src, str):
        text = json_text(value.static)
        if '{{' in text or '}}' in text:
            raise NotWritable('a value holds "{{" or "}}", which cannot go into an n8n expression unchanged')
        return text
    if value.value_type in ('number', 'bool', 'null'):
        return json_text(value.static)
    raise NotWritable('the key-value body parameter %r mixes text and expressions; it cannot be moved into a '
                      'message exactly' % (value.src,))
