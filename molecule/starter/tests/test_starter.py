"""A starter-kit n8n (Postgres on its own network) attached, restored, adopted and
restored again. The tests run in file order: each step builds on the one before."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import COMPOSE, DOMAIN, NGINX, ROOT, http_status, run_playbook, secret, trigger_webhook  # noqa: E402  pylint: disable=wrong-import-position
from starter import N8N, container, decrypted_secret, docker, recorded, state  # noqa: E402  pylint: disable=wrong-import-position

STACK_NET = 'llm-gateway-starter-net'


def shown_secrets(out):
    """The secrets of the user's n8n (its container's environment) and of the stack that OUT shows."""
    every = {'the n8n encryption key': secret('encryption_key'), 'the Postgres password': secret('postgres_password'),
             'the LiteLLM master key': secret('litellm_master_key'), 'the n8n API key': secret('n8n.env', 'N8N_API_KEY')}
    assert all(len(value) >= 16 for value in every.values()), 'a secret too short to look for'
    return sorted(name for name, value in every.items() if value in out)


def same_data(now, before):
    assert now['workflows'].keys() == before['workflows'].keys()
    # Phase 2 adds the Header Auth credential that holds LiteLLM's key, nothing else.
    assert [c for c in now['credentials'] if c != 'LiteLLM'] == before['credentials']
    assert set(before['executions']) <= set(now['executions'])


def test_attach_left_the_container_as_it_was(host):  # pylint: disable=unused-argument
    before, now = recorded()['container'], container()
    assert (now['id'], now['running'], now['started']) == (before['id'], True, before['started'])
    assert now['networks'] == sorted(before['networks'] + [STACK_NET])


def test_attached_n8n_runs_the_migrated_workflow_through_litellm(host):
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from the starter kit'})
    assert answer == {'answer': 'Stand-in answer to: hello from the starter kit'}


def test_attached_n8n_keeps_its_workflows_credential_and_executions(host):  # pylint: disable=unused-argument
    same_data(state(), recorded()['state'])
    assert decrypted_secret(['docker', 'exec', N8N]) == 'starter-secret-value'


def test_a_new_litellm_key_reaches_the_n8n_credential(host):
    # The key rotates: LiteLLM takes the new one, the n8n credential is updated (PATCH), the
    # migrated workflow answers with it, and the old key is refused. The play never prints it.
    old = open('/srv/llm-gateway-starter-secrets/litellm_master_key').read().strip()
    new = 'sk-rotated-' + secrets.token_hex(20)
    rc, out = run_playbook('site.yml', '-e', json.dumps({'llm_gateway_litellm_master_key': new}))
    assert rc == 0, out[-3000:]
    assert new not in out and old not in out
    models = 'http://%s/v1/models' % NGINX
    assert http_status(host, models, 'Host: llm.%s' % DOMAIN, 'Authorization: Bearer %s' % new) == '200'
    assert http_status(host, models, 'Host: llm.%s' % DOMAIN, 'Authorization: Bearer %s' % old) in ('400', '401')
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello after the key changed'})
    assert answer == {'answer': 'Stand-in answer to: hello after the key changed'}
    # Back to the inventory's key (the credential follows again), for the tests after this one.
    rc, out = run_playbook('site.yml')
    assert rc == 0, out[-3000:]
    assert trigger_webhook(host, 'llm-ask', {'prompt': 'and back'}) == {'answer': 'Stand-in answer to: and back'}


def test_a_snapshot_was_taken_before_the_first_change(host):  # pylint: disable=unused-argument
    snapshots = sorted(os.listdir(ROOT + '/backups/original'))
    latest = os.path.join(ROOT, 'backups', 'original', snapshots[-1])
    assert oct(os.stat(latest).st_mode & 0o777) == '0o700'
    exported = os.listdir(os.path.join(latest, 'n8n-export-' + N8N, 'workflows'))
    assert len(exported) == len(recorded()['state']['workflows'])
    assert os.path.getsize(os.path.join(latest, 'n8n-postgres.dump')) > 0
    # Dumped with n8n's own user and password: the starter kit's Postgres asks for
    # one on its socket too.
    refused = subprocess.run(['docker', 'exec', 'starter-postgres', 'psql', '--no-password', '-U', 'root', '-d', 'n8n',
                              '-c', 'SELECT 1'], capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and 'no password supplied' in refused.stderr, refused


def test_restore_after_attach_gives_the_original_back(host):  # pylint: disable=unused-argument
    # At -vvv (AWX and ARA keep what -v and beyond print): no secret shown.
    rc, out = run_playbook('restore.yml', '-vvv')
    assert rc == 0, out[-3000:]
    assert shown_secrets(out) == []
    assert container()['networks'] == recorded()['container']['networks']
    assert docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=llm-gateway-starter') == ''
    now, before = state(), recorded()['state']
    assert now['workflows'] == before['workflows']
    # The LiteLLM credential phase 2 created is gone with the rest of what the collection added.
    assert now['credentials'] == before['credentials']


def test_adopt_refuses_a_key_that_is_not_its_data_key(host):  # pylint: disable=unused-argument
    before = container()
    wrong = {'llm_gateway_n8n_takeover': 'adopt', 'llm_gateway_n8n_encryption_key': 'x' * 32}
    rc, out = run_playbook('site.yml', '-e', json.dumps(wrong))
    assert rc != 0 and 'cannot be adopted as it is' in out and 'Mismatching encryption keys' in out, out[-3000:]
    assert 'x' * 32 not in out
    assert container() == before


def test_an_adoption_that_does_not_come_up_gives_the_original_back(host):  # pylint: disable=unused-argument
    """nginx's published port is held by another process, so `up` fails after the user's n8n was stopped."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('127.0.0.1', 18280))  # llm_gateway_nginx_publish
    holder.listen(1)
    try:
        rc, out = run_playbook('site.yml', '-e', 'llm_gateway_n8n_takeover=adopt')
    finally:
        holder.close()
    assert rc != 0
    assert 'The stack did not come up' in out, out[-3000:]
    assert 'address already in use' in out or 'port is already allocated' in out, out[-3000:]
    assert 'run again as before' in out
    # The user's n8n runs again under its own name (the same container), with its data; the new stack is down.
    now = container()
    assert now['id'] == recorded()['container']['id'] and now['running']
    assert N8N + '-pre-llm-gateway' not in docker('ps', '-a', '--format', '{{.Names}}').split()
    assert docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=llm-gateway-starter') == ''
    assert state()['workflows'] == recorded()['state']['workflows']


def test_adopt_carries_the_database_and_the_data_over(host):
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_n8n_takeover=adopt', '-vvv')
    assert rc == 0, out[-3000:]
    assert shown_secrets(out) == []
    old = json.loads(docker('container', 'inspect', N8N + '-pre-llm-gateway'))[0]
    assert old['State']['Running'] is False
    with open(ROOT + '/docker-compose.yml') as f:
        compose = yaml.safe_load(f)
    n8n = compose['services']['n8n']
    assert n8n['environment']['DB_TYPE'] == 'postgresdb' and 'DB_POSTGRESDB_PASSWORD' not in n8n['environment']
    assert 'starter-net' in n8n['networks'] and compose['networks']['starter-net']['external'] is True
    # The user's data volume, taken over as it is (never removed by the stack).
    assert 'n8n_data:/home/node/.n8n' in n8n['volumes']
    assert compose['volumes']['n8n_data'] == {'name': 'starter-n8n-storage', 'external': True}
    password = open('/srv/llm-gateway-starter-secrets/postgres_password').read().strip()
    assert password not in open(ROOT + '/docker-compose.yml').read()
    with open(ROOT + '/env/n8n-secrets/DB_POSTGRESDB_PASSWORD') as f:
        assert f.read() == password
    assert n8n['environment']['DB_POSTGRESDB_PASSWORD_FILE'] == '/run/secrets/llm-gateway/DB_POSTGRESDB_PASSWORD'
    new_n8n = subprocess.check_output(COMPOSE.split() + ['ps', '--quiet', 'n8n'], text=True).strip()
    assert new_n8n and password not in docker('container', 'inspect', new_n8n)
    same_data(state(), recorded()['state'])
    assert decrypted_secret(COMPOSE.split() + ['exec', '-T', 'n8n']) == 'starter-secret-value'
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from the adopted n8n'})
    assert answer == {'answer': 'Stand-in answer to: hello from the adopted n8n'}


def test_restore_after_adopt_gives_the_original_container_back(host):  # pylint: disable=unused-argument
    rc, out = run_playbook('restore.yml', '-vvv')
    assert rc == 0, out[-3000:]
    assert shown_secrets(out) == []
    # n8n as it was before the restore (the adopted one, on the user's Postgres) is kept, and named.
    kept = sorted(os.listdir(ROOT + '/backups/pre-restore'))[-1]
    assert 'n8n as it is before this restore: %s/backups/pre-restore/%s' % (ROOT, kept) in out
    files = os.listdir(os.path.join(ROOT, 'backups', 'pre-restore', kept))
    assert {'n8n-postgres.dump', 'n8n-data.tar.gz', 'snapshot.json'} <= set(files), files
    now = container()
    assert now['id'] == recorded()['container']['id'] and now['running']
    assert docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=llm-gateway-starter') == ''
    assert state()['workflows'] == recorded()['state']['workflows']
