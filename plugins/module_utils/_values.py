# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Whether the values the roles write into configuration files have the form their place needs (pure).

The roles write most values verbatim into nginx's configuration, the compose file, Ollama's systemd
drop-in and firewall rules, or use them as paths and container names in commands. A ``;``, a brace, a
quote, white space or a line break there changes what the file says. Every kind below is a pattern
that must match the whole value (``re.fullmatch``: no ``$`` that lets a trailing line break through),
with the form a user is told to give.

A *check* is a dict: ``name`` (the variable, as the user knows it), ``kind`` (a key of KINDS, or one of
the structured kinds ``env`` and ``litellm_models``), ``value``, and optionally ``each`` (the value is
a list and each element is of the kind), ``optional`` (an empty value is fine) and ``secret`` (never
show the value; the kind ``bearer_key`` always is). ``problems`` returns one sentence per bad value,
naming the variable (``name[2]`` for an element), what is wrong and the form expected, without a
semicolon of its own (a task joins them with ``; ``).
"""

from __future__ import annotations

import json
import re

_OCTET = r'(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])'
_IPV4 = r'(?:%s\.){3}%s' % (_OCTET, _OCTET)
_PORT = r'(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})'
_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
_HOST = r'%s(?:\.%s)*' % (_LABEL, _LABEL)
_IPV6 = r'\[[0-9A-Fa-f:.]+\]'
_NAME = r'[A-Za-z0-9][A-Za-z0-9_.-]*'
_SEGMENT = r'[A-Za-z0-9._+@=,~-]+'
_PATH = r'(?:/%s)+/?' % _SEGMENT
_IMAGE_PART = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_IMAGE = (r'(?:%s(?::%s)?/)?%s(?:/%s)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?'
          % (_HOST, _PORT, _IMAGE_PART, _IMAGE_PART))

# kind -> (pattern of the whole value, the form expected)
KINDS = {
    'domain': (r'(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}',
               'a DNS domain in lower case, such as example.com'),
    'ipv4': (_IPV4, 'an IPv4 address such as 172.29.77.1'),
    'cidr': (_IPV4 + r'/(?:3[0-2]|[12]?[0-9])', 'an IPv4 network in CIDR form, such as 172.29.77.0/24'),
    'host_port': (_HOST + ':' + _PORT, 'HOST:PORT, such as host.docker.internal:11434'),
    'host_header': (r'(?:%s|%s)(?::%s)?' % (_HOST, _IPV6, _PORT),
                    'a host name or address with an optional port, such as localhost:11434'),
    'listen': (r'(?:%s|%s):%s' % (_IPV4, _IPV6, _PORT), 'ADDRESS:PORT, such as 0.0.0.0:11434'),
    'publish': (r'(?:%s:)?%s' % (_IPV4, _PORT), '[IPv4 address:]port, such as 127.0.0.1:8080'),
    'nginx_size': (r'[0-9]{1,9}[kKmMgG]?', 'an nginx size: digits with an optional k, m or g, such as 64m'),
    'nginx_rate': (r'[1-9][0-9]{0,8}r/[sm]', 'an nginx rate: requests per second or per minute, such as 10r/s'),
    'count': (r'[0-9]{1,9}', 'a whole number, such as 20'),
    'docker_size': (r'[1-9][0-9]{0,11}[bkmgBKMG]?', 'a Docker size: digits with an optional b, k, m or g, such as 10m'),
    'seconds': (r'[1-9][0-9]{0,8}', 'a whole number of seconds, 1 or more'),
    'http_status': (r'[1-5][0-9]{2}', 'an HTTP status code, such as 404'),
    'phase': (r'[12]', '1 or 2'),
    'container_name': (_NAME, 'a container name: a letter or digit, then letters, digits, _ . or -'),
    'network_name': (_NAME, 'a Docker network name: a letter or digit, then letters, digits, _ . or -'),
    'volume_or_path': (r'%s|%s' % (_PATH, _NAME),
                       'a Docker volume name (a letter or digit, then letters, digits, _ . or -) or an absolute '
                       'folder (letters, digits and / . _ - + @ = , ~)'),
    'compose_project': (r'[a-z0-9][a-z0-9_-]*',
                        'a Compose project name: lower-case letters, digits, _ and -, starting with a letter or '
                        'digit'),
    'image': (_IMAGE, 'an image reference, such as nginx:1.30.0 or ghcr.io/owner/name:tag[@sha256:digest]'),
    'path': (_PATH, 'an absolute path of letters, digits and / . _ - + @ = , ~ (no white space, quotes, $, semicolon or colon)'),
    'volume': (r'(?:%s|\.{1,2}(?:/%s)*/?|~(?:/%s)*/?|%s):%s(?::[A-Za-z]+(?:,[A-Za-z]+)*)?'
               % (_PATH, _SEGMENT, _SEGMENT, _NAME, _PATH),
               "Compose's short volume syntax SOURCE:TARGET[:MODE], such as /srv/files:/files:ro or "
               'my-volume:/data, of letters, digits and / . _ - + @ = , ~'),
    'env_name': (r'[A-Za-z_][A-Za-z0-9_]*',
                 'an environment variable name: letters, digits and _, not starting with a digit'),
    'timezone': (r'[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*', 'a time zone such as UTC or Europe/Berlin'),
    'unit': (r'[A-Za-z0-9@_.-]+\.service', 'a systemd unit name ending in .service, such as ollama.service'),
    'url': (r'https?://(?:%s|%s)(?::%s)?(?:/[A-Za-z0-9._~%%/-]*)?' % (_HOST, _IPV6, _PORT),
            'an http(s) URL such as http://host.docker.internal:11434'),
    'base_url': (r'https?://(?:%s|%s)(?::%s)?/?' % (_HOST, _IPV6, _PORT),
                 'an http(s) URL of a host and an optional port, without a path, such as '
                 'http://host.docker.internal:11434'),
    'loopback_publish': (r'127\.(?:%s\.){2}%s:%s' % (_OCTET, _OCTET, _PORT),
                         'a loopback address and port, such as 127.0.0.1:8080'),
    'model_name': (r'[A-Za-z0-9][A-Za-z0-9._:/@-]*',
                   'a model name of letters, digits and . _ : / @ -, starting with a letter or digit'),
    'ollama_model': (r'[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*(?::[A-Za-z0-9][A-Za-z0-9._-]*)?',
                     'an Ollama model such as llama3 or llama3:8b'),
    'bearer_key': (r'[A-Za-z0-9._~+/=-]{24,200}',
                   '24 to 200 letters, digits or . _ ~ + / = - (for example: openssl rand -hex 24)'),
    'key_alias': (r'[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}',
                  'a letter or digit, then up to 63 letters, digits or _ . : @ -, such as n8n'),
    'budget_duration': (r'[1-9][0-9]{0,8}(?:s|m|h|d|mo)', 'a duration such as 30s, 10m, 1h, 1d or 1mo'),
}
# Forms of secret values that may hold any character but white space where a
# password goes, so they are not KINDS (whose values are single safe tokens).
SECRET_FORMS = {
    'postgres_url': (r'postgres(?:ql)?://[^\s/@]+@[^\s/@]+/[^\s/?]+(?:\?\S*)?',
                     'postgresql://USER:PASSWORD@HOST:5432/DATABASE'),
}
SECRET_KINDS = frozenset(('bearer_key',))
STRUCTURED = {
    'env': 'a mapping of environment variable names (letters, digits and _, not starting with a digit) to a '
           'text, a number or true/false',
    'litellm_models': 'a list of {name, backends: [{model, api_base}]}',
    'mem_limits': 'a mapping of the services nginx, n8n, litellm, postgres and redis to Docker sizes, such as {n8n: 2g}',
    'command': 'a Compose healthcheck test: a list of texts that starts with CMD, CMD-SHELL or NONE',
}
_COMPILED = dict((kind, re.compile(pattern)) for kind, (pattern, dummy) in list(KINDS.items()) + list(SECRET_FORMS.items()))
# What a value must never hold, in the order they are reported.
_BREAKING = ';{}\'"`$#\\'


def kinds():
    """The names of every kind ``problems`` knows."""
    return sorted(list(KINDS) + list(STRUCTURED))


def _shown(value):
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + '..."'


def defect(value):
    """What is wrong with a value that does not have its form: a sentence fragment."""
    if isinstance(value, bool):
        return 'is true/false, not a text'
    if value is None:
        return 'is not set (null)'
    if isinstance(value, dict):
        return 'is a mapping, not a text'
    if isinstance(value, (list, tuple)):
        return 'is a list, not a text'
    text = str(value)
    if text == '':
        return 'is empty'
    if '\n' in text or '\r' in text:
        return 'holds a line break'
    if any(c.isspace() for c in text):
        return 'holds white space'
    bad = []
    for char in _BREAKING:
        if char in text:
            bad.append(json.dumps(char))
    if bad:
        return 'holds %s' % ' and '.join(bad)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return 'holds a control character'
    return 'has the wrong form'


def matches(kind, value):
    """Whether a scalar ``value`` has the form of ``kind`` (of KINDS or SECRET_FORMS; whole value)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    return _COMPILED[kind].fullmatch(str(value)) is not None


def _problem(name, value, secret, form, what=None):
    what = what or defect(value)
    got = ' (the value is secret and not shown)' if secret else ' (got %s)' % _shown(value)
    return '%s %s%s, expected %s' % (name, what, got, form)


def _scalar(name, kind, value, secret, optional):
    if optional and value in ('', None):
        return []
    if matches(kind, value):
        return []
    return [_problem(name, value, secret, KINDS[kind][1])]


def _compose_dollar(text):
    """Whether Compose would substitute something in ``text`` (a ``$`` that is not ``$$``)."""
    return '$' in text.replace('$$', '')


def _env(name, value, secret):
    if value in (None, ''):
        return []
    if not isinstance(value, dict):
        return [_problem(name, value, secret, STRUCTURED['env'], 'is not a mapping')]
    found = []
    for key in value:
        if not matches('env_name', key):
            found.append('%s has the key %s, which %s, expected %s' % (
                name, _shown(key), defect(key) if isinstance(key, str) else 'is not a text', KINDS['env_name'][1]))
            continue
        item = value[key]
        label = '%s.%s' % (name, key)
        if isinstance(item, (dict, list, tuple)) or item is None:
            found.append(_problem(label, item, secret, 'a text, a number or true/false'))
        elif isinstance(item, str) and _compose_dollar(item):
            found.append(_problem(label, item, secret, 'no lone $ (Compose substitutes ${NAME}, so write $$ '
                                                       'for a literal $)', 'holds "$"'))
    return found


def _command(name, value, secret):
    if not isinstance(value, (list, tuple)) or not value or value[0] not in ('CMD', 'CMD-SHELL', 'NONE'):
        return [_problem(name, value, secret, STRUCTURED['command'], 'is not such a list')]
    found = []
    for index, item in enumerate(value):
        label = '%s[%d]' % (name, index)
        if not isinstance(item, str) or '\n' in item or '\r' in item:
            found.append(_problem(label, item, secret, 'a text on one line'))
        elif _compose_dollar(item):
            found.append(_problem(label, item, secret, 'no lone $ (Compose substitutes ${NAME}, so write $$ '
                                                       'for a literal $)', 'holds "$"'))
    return found


def _litellm_models(name, value, secret):
    """The names, Ollama models and URLs of LiteLLM's models; their structure is the litellm role's check."""
    found = []
    for index, model in enumerate(value if isinstance(value, list) else []):
        if not isinstance(model, dict):
            continue
        if 'name' in model:
            found += _scalar('%s[%d].name' % (name, index), 'model_name', model['name'], secret, False)
        backends = model.get('backends')
        for number, backend in enumerate(backends if isinstance(backends, list) else []):
            if not isinstance(backend, dict):
                continue
            label = '%s[%d].backends[%d]' % (name, index, number)
            if 'model' in backend:
                found += _scalar(label + '.model', 'ollama_model', backend['model'], secret, False)
            if 'api_base' in backend:
                found += _scalar(label + '.api_base', 'url', backend['api_base'], secret, False)
    return found


def _mem_limits(name, value, secret):
    """Memory limits by service: only the stack's services, each a Docker size."""
    if value in (None, ''):
        return []
    if not isinstance(value, dict):
        return [_problem(name, value, secret, STRUCTURED['mem_limits'], 'is not a mapping')]
    found = []
    for service in value:
        if service not in ('nginx', 'n8n', 'litellm', 'postgres', 'redis'):
            found.append('%s has the key %s, which is not a service of the stack, expected %s' % (
                name, _shown(service), STRUCTURED['mem_limits']))
            continue
        found += _scalar('%s.%s' % (name, service), 'docker_size', value[service], secret, False)
    return found


_STRUCTURED_CHECKS = {'env': _env, 'command': _command, 'litellm_models': _litellm_models,
                      'mem_limits': _mem_limits}


def check_value(check):
    """The problems of one check (see the module's description)."""
    name = check.get('name') or '(unnamed)'
    kind = check.get('kind')
    value = check.get('value')
    secret = bool(check.get('secret')) or kind in SECRET_KINDS
    optional = bool(check.get('optional'))
    if kind in _STRUCTURED_CHECKS:
        return _STRUCTURED_CHECKS[kind](name, value, secret)
    if kind not in KINDS:
        raise ValueError('%s: unknown kind %r (known: %s)' % (name, kind, ', '.join(kinds())))
    if not check.get('each'):
        return _scalar(name, kind, value, secret, optional)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        return [_problem(name, value, secret, 'a list, each element %s' % KINDS[kind][1], 'is not a list')]
    found = []
    for index, item in enumerate(value):
        found += _scalar('%s[%d]' % (name, index), kind, item, secret, optional)
    return found


def problems(checks, values=None, unset=None):
    """Every problem of ``checks``, in order.

    A check without ``value`` takes ``values[name]``; a check whose value is missing from ``values`` or
    equal to ``unset`` (what a lookup gives for a variable the play does not define) is left out.
    """
    found = []
    for check in checks:
        if 'value' not in check:
            if values is None or check.get('name') not in values:
                continue
            value = values[check['name']]
            if unset is not None and isinstance(value, str) and value == unset:
                continue
            check = dict(check, value=value)
        found += check_value(check)
    return found


# The secrets the stack writes verbatim into an env file, a secret file or redis.conf: n8n's encryption key and
# the stack's Postgres and Redis passwords. Compose alters $, quotes, # and white space in an env file, and n8n
# trims a file's white space.
MIN_SECRET_LENGTH = 16
SECRET_BREAKING = '$\'"#\\` \t\n\r'
_PLACEHOLDER = re.compile(r'(?i)change[-_ ]?me')


def secret_problems(value):
    """What keeps a secret from going verbatim into the stack's files, one phrase each (empty: nothing); the value
    itself is never quoted."""
    text = '' if value is None else str(value)
    checks = (
        ('it is missing or shorter than %d characters' % MIN_SECRET_LENGTH, len(text) < MIN_SECRET_LENGTH),
        ('it is a placeholder from the example inventory (CHANGE-ME)', _PLACEHOLDER.search(text) is not None),
        ('it holds $, quotes, #, a backslash or white space, which an env file would alter',
         any(c in SECRET_BREAKING for c in text)),
    )
    return [problem for problem, bad in checks if bad]
