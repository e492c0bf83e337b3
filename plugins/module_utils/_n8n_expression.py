# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""n8n expressions: ``=`` then a template; text outside ``{{ }}`` is literal, inside is JavaScript.

Scanning only, no I/O: where an expression ends, and its literal pieces (template text and the
JavaScript string and template literals inside ``{{ }}``).
"""

from __future__ import annotations

MAX_JS_NESTING = 32       # ${ } inside template literals inside {{ }}


class ExpressionError(ValueError):
    """An n8n expression could not be parsed safely."""


class Literal(object):
    """A piece of literal text inside an expression body.

    ``start``..``end`` is the literal's content; ``static_end`` is where its constant part
    ends (a template literal's first ``${``); ``kind`` is ``text`` (template text outside
    ``{{ }}``) or the JavaScript quote character; ``escaped`` tells whether its constant
    part holds a backslash escape.
    """

    def __init__(self, kind, start, end, static_end=None, escaped=False, first=False):
        self.kind = kind
        self.start = start
        self.end = end
        self.static_end = end if static_end is None else static_end
        self.escaped = escaped
        self.first = first


def _scan_quoted(text, i, quote):
    """Scan a '...' or "..." literal whose opening quote is at i-1; return (end, escaped)."""
    n = len(text)
    escaped = False
    while i < n:
        c = text[i]
        if c == '\\':
            escaped = True
            i += 2
            continue
        if c == quote:
            return i, escaped
        if c == '\n':
            break
        i += 1
    raise ExpressionError('unterminated string literal')


def _scan_template(text, i, literals, nesting):
    """Scan a `...` literal whose backquote is at i-1; return the index after its closing backquote."""
    n = len(text)
    start = i
    static_end = None
    escaped = False
    while i < n:
        c = text[i]
        if c == '\\':
            if static_end is None:
                escaped = True
            i += 2
            continue
        if c == '`':
            literals.append(Literal('`', start, i, static_end, escaped))
            return i + 1
        if c == '$' and text.startswith('${', i):
            if static_end is None:
                static_end = i
            i = _scan_code(text, i + 2, literals, nesting + 1, closer='}') + 1
            continue
        i += 1
    raise ExpressionError('unterminated template literal')


def _scan_code(text, i, literals, nesting, closer):
    """Scan JavaScript from i up to ``closer`` (``}}`` or ``}``) at brace depth 0; return its index."""
    if nesting > MAX_JS_NESTING:
        raise ExpressionError('expression nested too deeply')
    n = len(text)
    depth = 0
    while i < n:
        c = text[i]
        if c in ('"', "'"):
            end, escaped = _scan_quoted(text, i + 1, c)
            literals.append(Literal(c, i + 1, end, None, escaped))
            i = end + 1
            continue
        if c == '`':
            i = _scan_template(text, i + 1, literals, nesting)
            continue
        if c == '{':
            depth += 1
        elif c == '}':
            if depth == 0:
                if closer == '}' or text.startswith('}}', i):
                    return i
                raise ExpressionError('unbalanced }')
            depth -= 1
        i += 1
    raise ExpressionError('unterminated {{ }}' if closer == '}}' else 'unterminated ${ }')


def scan_expression_end(text, start):
    """Index of the ``}}`` that closes the ``{{`` just before ``start``; raises ExpressionError.

    JavaScript strings, template literals and braces inside are skipped, as for URLs.
    """
    return _scan_code(text, start, [], 0, closer='}}')


def expression_literals(body):
    """The literal pieces of an expression body (the string after ``=``); raises ExpressionError."""
    literals = []
    n = len(body)
    i = 0
    text_start = 0
    while i < n:
        if body.startswith('{{', i):
            if i > text_start or text_start == 0:
                literals.append(Literal('text', text_start, i, first=(text_start == 0)))
            i = _scan_code(body, i + 2, literals, 0, closer='}}') + 2
            text_start = i
            continue
        i += 1
    if text_start < n or text_start == 0:
        literals.append(Literal('text', text_start, n, first=(text_start == 0)))
    return literals
