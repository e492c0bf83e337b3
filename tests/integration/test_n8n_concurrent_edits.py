"""n8n_workflow_urls while people work, against the harness's real n8n (2.41.1), run through ansible like a task.

An intercepting proxy on 127.0.0.1 stands in front of n8n: when it has fetched the module's workflow listing, it
edits workflows directly in n8n before it hands the (now stale) listing over, so the edits land between the
listing and the module's writes. Then the rollback meets a workflow edited after the run, a deleted one, and a
backup folder with a partial file. The workflows carry a unique prefix and are deleted at the end."""

from __future__ import annotations

import copy
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, run_module
from n8n_client import OPENER
from n8n_corpus import chain, http, manual

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
RULES = [{'from': OLD, 'to': NEW}]


class EditingProxy(object):
    """Forwards every request to n8n; after the first workflow listing has come back from n8n, runs
    ``on_listing()`` (the concurrent edits) and only then answers the module with that listing."""

    def __init__(self, upstream, on_listing):
        self.upstream = upstream.rstrip('/')
        self.on_listing = on_listing
        self.requests = []
        self.edited = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else None
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ('host', 'connection'))
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                             headers=headers)
                try:
                    resp = OPENER.open(req, timeout=60)
                except urllib.error.HTTPError as exc:
                    resp = exc
                with resp:
                    status, data, ctype = resp.status, resp.read(), resp.headers.get('Content-Type')
                proxy.requests.append((self.command, self.path.split('?')[0]))
                if self.command == 'GET' and self.path.startswith('/api/v1/workflows?') and \
                        not proxy.edited.is_set():
                    proxy.edited.set()
                    proxy.on_listing()
                self.send_response(status)
                if ctype:
                    self.send_header('Content-Type', ctype)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(('127.0.0.1', free_port()), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def put_edit(api, wid, change):
    """An edit as any API client (or the editor) makes it: GET, change, PUT the writable keys."""
    current = api.get(wid)
    body = {'name': current['name'], 'nodes': copy.deepcopy(current['nodes']),
            'connections': current['connections'], 'settings': {'executionOrder': 'v1'}}
    change(body)
    return api.call('PUT', '/workflows/%s' % wid, body)


def node_url(workflow, name='Ask Ollama'):
    return [n for n in workflow['nodes'] if n['name'] == name][0]['parameters']['url']


@pytest.fixture
def live(n8n):
    api = n8n.client()
    prefix = 'occ-%s' % uuid.uuid4().hex[:8]
    ids = {}
    try:
        for key in ('planned_again', 'left_alone', 'untouched', 'edited_later', 'deleted_later'):
            nodes, connections = chain(manual(), http('Ask Ollama', OLD, method='POST'))
            body = {'name': '%s %s' % (prefix, key), 'nodes': nodes, 'connections': connections,
                    'settings': {'executionOrder': 'v1'}}
            ids[key] = api.call('POST', '/workflows', body)['id']
        yield api, ids
    finally:
        for wid in ids.values():
            api.request('DELETE', '/api/v1/workflows/%s' % wid)


def test_edits_during_the_run_are_kept_and_the_rollback_leaves_later_edits_alone(n8n, live, tmp_path):
    api, ids = live

    def edits():
        # planned_again: someone adds a header; the URL still needs the rewrite
        put_edit(api, ids['planned_again'], lambda body: body['nodes'][1]['parameters'].update(
            sendHeaders=True, headerParameters={'parameters': [{'name': 'X-Edited', 'value': 'during the run'}]}))
        # left_alone: someone moves the URL themselves; it no longer matches the rule
        put_edit(api, ids['left_alone'], lambda body: body['nodes'][1]['parameters'].update(
            url='http://somewhere-else/api/generate'))

    proxy = EditingProxy(n8n.url, edits)
    before = api.snapshot(ids.values())
    try:
        result, dummy = run_module('n8n_workflow_urls', {
            'url': proxy.url, 'api_key': n8n.api_key, 'rewrites': RULES, 'workflow_ids': list(ids.values()),
            'backup_dir': str(tmp_path / 'run'), 'delay': 0})
    finally:
        proxy.close()
    assert proxy.edited.is_set() and not result.get('failed'), result
    after = api.snapshot(ids.values())

    # the edit that still needed the rewrite: both are there, the rules ran again on the fresh copy
    again = after[ids['planned_again']]
    assert node_url(again) == NEW
    assert again['nodes'][1]['parameters']['headerParameters']['parameters'][0]['value'] == 'during the run'
    # the edit that made the rewrite moot: not overwritten, nothing written
    assert node_url(after[ids['left_alone']]) == 'http://somewhere-else/api/generate'
    assert not any(m == 'PUT' and p.endswith('/' + ids['left_alone']) for m, p in proxy.requests)
    outcome = dict((e['id'], e['outcome']) for e in result['changed_since_read'])
    assert outcome == {ids['planned_again']: 'replanned', ids['left_alone']: 'skipped'}
    # every workflow written was read again right before its write, and its backup is that fresh copy
    written = sorted(w['id'] for w in result['changed_workflows'])
    assert written == sorted([ids['planned_again'], ids['untouched'], ids['edited_later'], ids['deleted_later']])
    for wid in written:
        puts = [i for i, r in enumerate(proxy.requests) if r == ('PUT', '/api/v1/workflows/' + wid)]
        gets = [i for i, r in enumerate(proxy.requests) if r == ('GET', '/api/v1/workflows/' + wid)]
        assert puts and gets and max(g for g in gets if g < puts[0]) < puts[0]
    backup = [p for p in result['backups'] if os.path.basename(p).startswith(ids['planned_again'])][0]
    with open(backup) as handle:
        saved = json.load(handle)
    assert saved['versionId'] != before[ids['planned_again']]['versionId'], 'backed up from the fresh copy'
    assert node_url(saved) == OLD and 'headerParameters' in saved['nodes'][1]['parameters']

    # after the run: one workflow edited, one deleted, a partial file left in the backup folder
    put_edit(api, ids['edited_later'], lambda body: body.update(name=body['name'] + ' (renamed later)'))
    api.call('DELETE', '/workflows/%s' % ids['deleted_later'])
    with open(os.path.join(result['backup_folder'], 'partial.json'), 'w') as handle:
        handle.write('{"id": "cut sh')
    with open(os.path.join(result['backup_folder'], '.x.json.abc.tmp'), 'w') as handle:
        handle.write('{')
    edited_before = api.get(ids['edited_later'])

    restored, dummy = run_module('n8n_workflow_urls', {
        'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored', 'backup': result['backup_folder'],
        'backup_dir': str(tmp_path / 'rollback'), 'delay': 0})
    assert not restored.get('failed'), restored
    names = dict((v, k) for k, v in ids.items())
    assert sorted(names[w['id']] for w in restored['changed_workflows']) == ['planned_again', 'untouched'], \
        (restored['skipped_items'], result['journal'])
    skipped = dict((s['id'], s['kind']) for s in restored['skipped_items'])
    assert skipped == {ids['edited_later']: 'changed_since_run', ids['deleted_later']: 'deleted'}
    warnings = ' '.join(restored.get('warnings', []))
    assert 'partial.json' in warnings and '.x.json.abc.tmp' in warnings
    # the others are back exactly as the run found them; the later edit is untouched
    final = api.snapshot([ids['planned_again'], ids['untouched'], ids['edited_later']])
    assert final[ids['untouched']]['nodes'] == before[ids['untouched']]['nodes']
    assert final[ids['planned_again']]['nodes'] == saved['nodes']
    assert final[ids['edited_later']]['versionId'] == edited_before['versionId']
    assert node_url(final[ids['edited_later']]) == NEW
