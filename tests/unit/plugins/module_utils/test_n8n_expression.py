"""Scanning n8n expressions: where they end, and their literal pieces."""

from __future__ import annotations

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_expression import expression_literals


def test_expression_literals_parse():
    body = "a{{ 'x' + \"y\" + `z${ {k: 'w'}.k }` }}b"
    lits = expression_literals(body)
    texts = [(lit.kind, body[lit.start:lit.end]) for lit in lits]
    assert ('text', 'a') in texts and ("'", 'x') in texts and ('"', 'y') in texts and ("'", 'w') in texts
    assert ('`', "z${ {k: 'w'}.k }") in texts and ('text', 'b') in texts
