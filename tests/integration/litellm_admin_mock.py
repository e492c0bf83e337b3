"""A mock of LiteLLM 1.108.7's key API, with its database, for the litellm_key module's tests.

LiteLLM keeps virtual keys in PostgreSQL through Prisma, whose query engine is downloaded at run time
from outside; no package reachable here ships it, so a LiteLLM with a database cannot run on this
machine. This mock answers the four key endpoints as the proxy's source does (paths below are in
``litellm/proxy/management_endpoints/key_management_endpoints.py``, "KME"), and nothing else:

* every call needs ``Authorization: Bearer <master key>``, else 401 (``user_api_key_auth``);
* ``POST /key/generate``: an alias used by a live key is 400 (KME:8127-8157, checked first); a custom
  ``key`` must start with ``sk-`` and have at least 16 characters, else 400 (KME:1605-1618); a key that
  exists answers 200 and nothing is written (an upsert with an empty update, proxy/utils.py:6210);
* ``GET /key/info?key=``: ``{"key", "info"}``, ``info`` without ``token``, with ``status``; a deleted key
  answers 200 from the archive with ``status: deleted``; an unknown one 404 (KME:4715-4777);
* ``POST /key/update``: 404 ``Key not found.`` for an unknown key; ``metadata`` replaced whole (KME:2876);
* ``POST /key/delete``: ``{"keys": [...]}``; 404 when none is found, else 200 echoing the list and the
  found ones archived (KME:4390-4457, 5298-5321).

Keys are stored by their SHA-256 (``hash_token``); raw ``sk-`` keys in requests are hashed.
``lose_answer_to`` makes the server do a request and then close the connection without answering
(an answer lost on the way back). Run as a program (``--host``, ``--port``, the master key in
``LITELLM_MASTER_KEY``), it also shows its database and the calls made at ``GET /_mock/state``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FIELDS = {'key_alias': None, 'models': [], 'rpm_limit': None, 'tpm_limit': None, 'max_budget': None,
          'budget_duration': None, 'metadata': {}, 'user_id': None, 'team_id': None, 'blocked': None,
          'spend': 0.0, 'expires': None}


def hash_token(key):
    return hashlib.sha256(key.encode()).hexdigest() if key.startswith('sk-') else key


def error(status, message, kind, param='None'):
    return status, {'error': {'message': message, 'type': kind, 'param': param, 'code': str(status)}}


class LiteLLMAdminMock:
    """The mock server on 127.0.0.1 (``url``); ``keys`` and ``deleted`` are its database, by token."""

    def __init__(self, master_key, host='127.0.0.1', port=0):
        self.master_key = master_key
        self.keys = {}
        self.deleted = {}
        self.calls = []
        self.lose_answer_to = set()
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._handle('GET')

            def do_POST(self):
                self._handle('POST')

            def _handle(self, method):
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}') if length else {}
                parts = urlsplit(self.path)
                with mock.lock:
                    if not parts.path.startswith('/_mock/'):
                        mock.calls.append((method, parts.path, dict(body, query=parts.query)))
                    status, answer = mock.answer(method, parts.path, parse_qs(parts.query), body,
                                                 self.headers.get('Authorization', ''))
                    lose = parts.path in mock.lose_answer_to
                    mock.lose_answer_to.discard(parts.path)
                if lose:
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = 'http://%s:%d' % (host, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def writes(self):
        return [call for call in self.calls if call[0] == 'POST']

    def answer(self, method, path, query, body, authorization):
        if (method, path) == ('GET', '/_mock/state'):
            return 200, {'keys': self.keys, 'deleted': self.deleted, 'calls': self.calls}
        if authorization != 'Bearer ' + self.master_key:
            return error(401, 'Authentication Error, Invalid proxy server token passed. Received API Key = sk-...',
                         'auth_error')
        route = (method, path)
        if route == ('GET', '/key/info'):
            return self.info(query.get('key', [''])[0])
        if route == ('POST', '/key/generate'):
            return self.generate(body)
        if route == ('POST', '/key/update'):
            return self.update(body)
        if route == ('POST', '/key/delete'):
            return self.delete(body)
        return error(404, 'Not Found', 'not_found_error')

    def info(self, key):
        token = hash_token(key)
        if token in self.keys:
            row = dict(self.keys[token], status='active')
        elif token in self.deleted:
            row = dict(self.deleted[token], status='deleted')
        else:
            return error(404, 'Key not found in database', 'not_found_error', 'key')
        row.pop('token', None)
        return 200, {'key': key, 'info': row}

    def generate(self, body):
        alias = body.get('key_alias')
        if alias and any(row['key_alias'] == alias for row in self.keys.values()):
            return error(400, "Key with alias '%s' already exists. Unique key aliases across all keys are required."
                         % alias, 'bad_request_error', 'key_alias')
        key = body.get('key')
        if key is None:
            key = 'sk-' + secrets.token_urlsafe(16)
        if not key.startswith('sk-'):
            return error(400, "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: %s" % key,
                         'bad_request_error', 'key')
        if len(key) < 16:
            return error(400, 'Custom key must be at least 16 characters long.', 'bad_request_error', 'key')
        token = hash_token(key)
        row = dict((field, body.get(field, default)) for field, default in FIELDS.items())
        if token not in self.keys:
            self.keys[token] = dict(row, token=token)
        return 200, dict(row, key=key, token=token, token_id=token, key_name='sk-...' + key[-4:])

    def update(self, body):
        if not body.get('key') and not body.get('key_alias'):
            return 422, {'detail': [{'msg': 'Either key or key_alias must be provided'}]}
        token = hash_token(body['key'])
        if token not in self.keys:
            return error(404, 'Key not found.', 'not_found_error', 'key')
        self.keys[token].update((field, body[field]) for field in FIELDS if field in body)
        return 200, dict(self.keys[token], key=body['key'])

    def delete(self, body):
        keys = body.get('keys') or []
        found = [hash_token(key) for key in keys if hash_token(key) in self.keys]
        if not found:
            return error(404, "{'error': 'No keys found'}", 'internal_server_error')
        for token in found:
            self.deleted[token] = self.keys.pop(token)
        return 200, {'deleted_keys': keys}


def main():
    parser = argparse.ArgumentParser(description='A mock of LiteLLM\'s key API')
    parser.add_argument('--host', default='0.0.0.0')
    parser.add_argument('--port', type=int, default=4000)
    args = parser.parse_args()
    mock = LiteLLMAdminMock(os.environ['LITELLM_MASTER_KEY'], args.host, args.port)
    mock.thread.join()


if __name__ == '__main__':
    main()
