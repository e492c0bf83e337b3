"""Seed an n8n with the workflows a pre-phase-1 user has (idempotent, by name):

* "LLM webhook": Webhook (POST /webhook/llm-ask, answers with the last node) ->
  HTTP Request POST https://llm.<domain>/api/generate with an Ollama body built
  from the webhook's JSON -> Set "Answer" {answer: $json.response}; active.
* "LLM chain": Webhook (POST /webhook/llm-chain, answers with the last node) -> LangChain's
  Basic LLM Chain with an Ollama Chat Model on the ollamaApi credential "Ollama public"
  (base URL https://llm.<domain>, as n8n's self-hosted AI starter kit has it); active.
* "Keep me": a workflow that has nothing to do with the LLM (data must survive).
* with --history: a credential "Starter secret" (Header Auth, value "starter-secret-value",
  kept encrypted by n8n) and one execution of "LLM webhook" (it fails: the public URL does
  not resolve here, which is the history a user has before phase 1).

N8N_API_KEY comes from the environment. stdlib only; 127.0.0.1 only.
"""

import argparse
import os
import sys

from n8n_client import N8nClient


def webhook(node_id, webhook_id, path):
    """A POST webhook trigger that answers with the last node's output."""
    return {'id': node_id, 'name': 'Webhook', 'type': 'n8n-nodes-base.webhook', 'typeVersion': 2,
            'position': [0, 0], 'webhookId': webhook_id,
            'parameters': {'httpMethod': 'POST', 'path': path, 'responseMode': 'lastNode', 'options': {}}}


def llm_webhook(domain):
    return {
        'name': 'LLM webhook',
        'nodes': [
            webhook('a1f0c0de-0000-4000-8000-000000000001', 'b2f0c0de-0000-4000-8000-000000000001', 'llm-ask'),
            {'id': 'a1f0c0de-0000-4000-8000-000000000002', 'name': 'Ask Ollama',
             'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2, 'position': [220, 0],
             'parameters': {
                 'method': 'POST', 'url': 'https://llm.%s/api/generate' % domain,
                 'sendBody': True, 'specifyBody': 'json',
                 'jsonBody': '={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}',
                 'options': {}}},
            {'id': 'a1f0c0de-0000-4000-8000-000000000003', 'name': 'Answer', 'type': 'n8n-nodes-base.set',
             'typeVersion': 3.4, 'position': [440, 0],
             'parameters': {'assignments': {'assignments': [
                 {'id': 'a1f0c0de-0000-4000-8000-000000000004', 'name': 'answer',
                  'value': '={{ $json.response }}', 'type': 'string'}]}, 'options': {}}},
        ],
        'connections': {'Webhook': {'main': [[{'node': 'Ask Ollama', 'type': 'main', 'index': 0}]]},
                        'Ask Ollama': {'main': [[{'node': 'Answer', 'type': 'main', 'index': 0}]]}},
        'settings': {'executionOrder': 'v1'},
    }


def llm_chain(credential):
    return {
        'name': 'LLM chain',
        'nodes': [
            webhook('d1f0c0de-0000-4000-8000-000000000001', 'e2f0c0de-0000-4000-8000-000000000001', 'llm-chain'),
            {'id': 'd1f0c0de-0000-4000-8000-000000000002', 'name': 'Basic LLM Chain',
             'type': '@n8n/n8n-nodes-langchain.chainLlm', 'typeVersion': 1.7, 'position': [220, 0],
             'parameters': {'promptType': 'define', 'text': '={{ $json.body.prompt }}'}},
            {'id': 'd1f0c0de-0000-4000-8000-000000000003', 'name': 'Ollama Chat Model',
             'type': '@n8n/n8n-nodes-langchain.lmChatOllama', 'typeVersion': 1, 'position': [220, 200],
             'parameters': {'model': 'llama3:latest', 'options': {}},
             'credentials': {'ollamaApi': {'id': credential['id'], 'name': credential['name']}}},
        ],
        'connections': {'Webhook': {'main': [[{'node': 'Basic LLM Chain', 'type': 'main', 'index': 0}]]},
                        'Ollama Chat Model': {'ai_languageModel': [[{'node': 'Basic LLM Chain',
                                                                     'type': 'ai_languageModel', 'index': 0}]]}},
        'settings': {'executionOrder': 'v1'},
    }


def ollama_credential(api, domain):
    """The ollamaApi credential "Ollama public" (by name, created once)."""
    for cred in api.call('GET', '/credentials?limit=250')['data']:
        if cred['name'] == 'Ollama public' and cred['type'] == 'ollamaApi':
            return cred
    return api.call('POST', '/credentials', {
        'name': 'Ollama public', 'type': 'ollamaApi', 'data': {'baseUrl': 'https://llm.%s' % domain}})


def keep_me():
    return {
        'name': 'Keep me',
        'nodes': [{'id': 'c1f0c0de-0000-4000-8000-000000000001', 'name': 'Start',
                   'type': 'n8n-nodes-base.manualTrigger', 'typeVersion': 1, 'position': [0, 0], 'parameters': {}}],
        'connections': {}, 'settings': {},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--url', required=True)
    ap.add_argument('--domain', required=True)
    ap.add_argument('--history', action='store_true', help='also a credential and an execution')
    args = ap.parse_args()
    api = N8nClient(args.url, os.environ['N8N_API_KEY'], timeout=30)
    existing = {w['name']: w for w in api.call('GET', '/workflows?limit=250')['data']}
    chain_body = llm_chain(ollama_credential(api, args.domain))
    for body, activate in ((llm_webhook(args.domain), True), (chain_body, True), (keep_me(), False)):
        wf = existing.get(body['name']) or api.call('POST', '/workflows', body)
        if activate and not wf.get('active'):
            api.call('POST', '/workflows/%s/activate' % wf['id'])
        print('seeded workflow %s (%s)' % (body['name'], wf['id']), file=sys.stderr)
    if args.history:
        seed_history(api)


def seed_history(api):
    names = [c['name'] for c in api.call('GET', '/credentials?limit=250')['data']]
    if 'Starter secret' not in names:
        api.call('POST', '/credentials', {
            'name': 'Starter secret', 'type': 'httpHeaderAuth',
            'data': {'name': 'X-Token', 'value': 'starter-secret-value'}})
    if not api.call('GET', '/executions?limit=1')['data']:
        # Any answer will do: the public URL does not resolve here, an execution in error, as expected.
        api.request('POST', '/webhook/llm-ask', {'prompt': 'before the move'}, timeout=60)
    print('seeded a credential and an execution', file=sys.stderr)


if __name__ == '__main__':
    main()
