# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The write of one workflow (read again, plan again, back up, journal, write, read back), against a fake client."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_urls_run
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import build_rules, plan_workflow
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_present import write_fresh
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_run import Runner, entry_of

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'


def node(name, url):
    return {'id': 'n-' + name, 'name': name, 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
            'position': [0, 0], 'parameters': {'method': 'POST', 'url': url}}


def workflow(wid, *nodes, **extra):
    base = {'id': wid, 'name': 'WF %s' % wid, 'nodes': list(nodes), 'connections': {}, 'settings': {},
            'active': False, 'versionId': 'v1'}
    base.update(extra)
    return base


class FakeClient(object):
    """get/put/activate on a dict of workflows; ``before_put`` and ``put_error`` shape what a write meets."""

    def __init__(self, *workflows):
        self.store = dict((w['id'], copy.deepcopy(w)) for w in workflows)
        self.puts = []
        self.put_error = None       # (status, saved): the PUT fails with status, after saving when saved
        self.counts = {}

    def get_workflow(self, wid):
        if wid not in self.store:
            raise ApiError('GET /api/v1/workflows/%s' % wid, 404, 'HTTP 404 Not Found')
        return copy.deepcopy(self.store[wid])

    def put_workflow(self, wid, body):
        self.puts.append((wid, copy.deepcopy(body)))
        if self.put_error and not self.put_error[1]:
            raise ApiError('PUT', self.put_error[0], 'HTTP %s' % self.put_error[0])
        self.store[wid].update(nodes=copy.deepcopy(body['nodes']), versionId='v%d' % (len(self.puts) + 1))
        if self.put_error:
            raise ApiError('PUT', self.put_error[0], 'HTTP %s' % self.put_error[0])
        return copy.deepcopy(self.store[wid])

    def activate(self, wid, version_id=None):
        self.store[wid]['active'] = True
        return copy.deepcopy(self.store[wid])


class Module(object):
    def __init__(self, tmp_path):
        self.params = {'url': 'http://127.0.0.1:5678', 'publish_drafts': False, 'auth': None, 'write_backups': True,
                       'backup_dir': str(tmp_path / 'backups'), 'parallel': 1, 'credential_state': None}
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


RULES = build_rules([{'from': OLD, 'to': NEW, 'regex': False, 'convert': 'none', 'fallback': None}], {})


@pytest.fixture
def run(tmp_path):
    """run(client, listed) -> (runner, outcome): the write of ``listed`` (as the listing saw it)."""
    def write(client, listed):
        runner = Runner(Module(tmp_path), client=client)
        plan = plan_workflow(listed, RULES, publish_drafts=False, context=None, moves={})
        runner.open_backups()
        entry = entry_of(plan)
        return runner, write_fresh(runner, plan, RULES, entry)
    return write


def urls(client, wid):
    return [n['parameters']['url'] for n in client.store[wid]['nodes']]


def test_an_unchanged_workflow_is_backed_up_journalled_and_written(run):
    listed = workflow('a', node('Ask', OLD))
    client = FakeClient(listed)
    runner, outcome = run(client, listed)
    assert outcome is None and urls(client, 'a') == [NEW]
    backup, = runner.result['backups']
    with open(backup) as handle:
        assert json.load(handle)['nodes'][0]['parameters']['url'] == OLD
    with open(os.path.join(runner.backup_folder, 'journal.json')) as handle:
        assert 'a' in json.load(handle)['workflows']
    assert runner.result['changed_since_read'] == []


def test_an_edit_made_after_the_listing_is_kept_the_plan_is_made_again(run):
    listed = workflow('a', node('Ask', OLD))
    client = FakeClient(listed)
    client.store['a']['nodes'].append(node('Added meanwhile', OLD))
    client.store['a']['versionId'] = 'v-edited'     # as n8n does on every save
    runner, outcome = run(client, listed)
    assert outcome is None
    assert [n['name'] for n in client.store['a']['nodes']] == ['Ask', 'Added meanwhile']
    assert urls(client, 'a') == [NEW, NEW]
    assert [(e['id'], e['outcome']) for e in runner.result['changed_since_read']] == [('a', 'replanned')]
    # The backup is the copy read right before the write, the other edit in it.
    with open(runner.result['backups'][0]) as handle:
        assert len(json.load(handle)['nodes']) == 2


def test_a_workflow_deleted_or_fixed_meanwhile_is_not_written(run):
    listed = workflow('a', node('Ask', OLD))
    client = FakeClient()
    runner, outcome = run(client, listed)
    assert outcome == 'not_written' and client.puts == []
    assert 'deleted after the listing' in runner.result['changed_since_read'][0]['reason']

    client = FakeClient(workflow('a', node('Ask', NEW), versionId='v-fixed'))
    runner, outcome = run(client, listed)
    assert outcome == 'not_written' and client.puts == []
    assert 'no longer needs a rewrite' in runner.result['changed_since_read'][0]['reason']


def test_a_put_that_fails_after_saving_says_saved_one_that_did_not_says_not(run):
    listed = workflow('a', node('Ask', OLD))
    client = FakeClient(listed)
    client.put_error = (502, True)
    runner, outcome = run(client, listed)
    assert outcome['saved'] is True and 'n8n saved it but answered with an error' in outcome['error']

    client = FakeClient(listed)
    client.put_error = (500, False)
    runner, outcome = run(client, listed)
    assert outcome['saved'] is False and urls(client, 'a') == [OLD]


def test_a_backup_that_cannot_be_written_stops_the_write_and_the_run(run, monkeypatch):
    def full_disk(folder, workflow, stamp):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(_n8n_urls_run, 'write_backup', full_disk)
    listed = workflow('a', node('Ask', OLD))
    client = FakeClient(listed)
    runner, outcome = run(client, listed)
    assert outcome['saved'] is False and 'No space left on device' in outcome['error']
    assert 'fix backup_dir' in outcome['error']
    assert client.puts == [] and runner.abort.is_set()


def test_a_run_that_wrote_some_workflows_but_not_all_is_the_one_failure_with_its_result(tmp_path):
    client = FakeClient()
    client.counts = {'GET': 3, 'PUT': 2}
    runner = Runner(Module(tmp_path), client=client)
    runner.outcome()  # nothing failed: no failure
    runner.result['changed_workflows'] = [{'id': 'b', 'name': 'B'}]
    runner.result['failed_workflows'] = [{'id': 'a', 'name': 'A', 'error': 'n8n refused', 'saved': False}]
    with pytest.raises(Failure) as caught:
        runner.outcome()
    assert caught.value.msg.startswith('1 workflow(s) could not be written: A (a): n8n refused.')
    assert 'Written: 1; not attempted: 0.' in caught.value.msg and caught.value.result == {}
    assert runner.result['changed'] is True
    assert runner.finished()['api_calls'] == {'GET': 3, 'PUT': 2}
