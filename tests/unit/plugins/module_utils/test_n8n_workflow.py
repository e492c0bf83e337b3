"""Workflows as the public API hands them out and takes them back: PUT bodies, state."""

from __future__ import annotations

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import put_body, restore_body

from test_n8n_rewrite import NEW, OLD, http_node, workflow


def test_put_body_shape():
    wf = workflow([http_node(OLD)], staticData={'lastId': 3}, description='d', versionCounter=4)
    body = put_body(wf, [http_node(NEW)])
    assert sorted(body) == ['connections', 'name', 'nodes', 'settings']
    assert body['settings'] == {} and body['name'] == 'WF 1' and body['nodes'][0]['parameters']['url'] == NEW
    restored = restore_body(wf)
    assert sorted(restored) == ['connections', 'name', 'nodes', 'settings', 'staticData']
    assert restored['staticData'] == {'lastId': 3} and restored['nodes'][0]['parameters']['url'] == OLD
