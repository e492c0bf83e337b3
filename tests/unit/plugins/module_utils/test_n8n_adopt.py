"""_n8n_adopt: what the stack carries over from an n8n container it adopts."""

from __future__ import annotations

from ansible_collections.local_ai.llm_gateway.plugins.filter.n8n_adoption import FilterModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_adopt import adoption

IMAGE_ENV = ['PATH=/usr/local/bin:/usr/bin', 'NODE_ENV=production', 'N8N_RELEASE_TYPE=stable']


def starter_kit(**over):
    """An n8n container shaped like the self-hosted AI starter kit's."""
    container = {
        'Name': '/n8n',
        'Config': {'Image': 'n8nio/n8n:latest', 'Env': IMAGE_ENV + [
            'DB_TYPE=postgresdb', 'DB_POSTGRESDB_HOST=postgres', 'DB_POSTGRESDB_USER=root',
            'DB_POSTGRESDB_PASSWORD=s3cret-pw', 'N8N_ENCRYPTION_KEY=the-key', 'N8N_HOST=old.example',
            'OLLAMA_HOST=ollama:11434', 'N8N_PERSONALIZATION_ENABLED=false', 'PRICE=5$']},
        'HostConfig': {'NetworkMode': 'starter_demo'},
        'Mounts': [
            {'Type': 'volume', 'Name': 'starter_n8n_storage', 'Destination': '/home/node/.n8n', 'RW': True},
            {'Type': 'bind', 'Source': '/srv/starter/shared', 'Destination': '/data/shared', 'RW': True},
            {'Type': 'volume', 'Name': 'starter_backup', 'Destination': '/backup', 'RW': False},
        ],
        'NetworkSettings': {'Networks': {'starter_demo': {}, 'llama-network': {}}},
    }
    container.update(over)
    return container


def test_the_starter_kit_is_carried_over():
    plan = adoption(starter_kit(), IMAGE_ENV, managed=['N8N_HOST'], network='llama-network',
                    encryption_key='the-key')
    assert plan['problems'] == []
    assert plan['container'] == 'n8n' and (plan['data'], plan['data_is_path']) == ('starter_n8n_storage', False)
    assert plan['secret_env'] == {'DB_POSTGRESDB_PASSWORD': 's3cret-pw'}
    assert plan['env'] == {'DB_TYPE': 'postgresdb', 'DB_POSTGRESDB_HOST': 'postgres', 'DB_POSTGRESDB_USER': 'root',
                           'OLLAMA_HOST': 'ollama:11434', 'N8N_PERSONALIZATION_ENABLED': 'false',
                           'PRICE': '5$$'}  # $$: a literal $ in a compose file
    assert 'N8N_HOST' not in plan['carried'] and 'NODE_ENV' not in plan['carried']
    assert plan['volumes'] == ['/srv/starter/shared:/data/shared', 'starter_backup:/backup:ro']
    assert plan['named_volumes'] == ['starter_backup']
    assert plan['networks'] == ['starter_demo']
    assert plan['key_in_container'] and plan['key_matches']


def test_a_different_key_is_caught_without_returning_it():
    plan = adoption(starter_kit(), IMAGE_ENV, encryption_key='another-key')
    assert plan['key_matches'] is False
    assert 'the-key' not in repr(plan)


def test_what_cannot_be_carried_is_listed():
    container = starter_kit(HostConfig={'NetworkMode': 'host'}, Mounts=[
        {'Type': 'tmpfs', 'Destination': '/home/node/.n8n'}])
    container['Config']['Env'].append('QUEUE_BULL_REDIS_PASSWORD=zz qq')
    problems = adoption(container, IMAGE_ENV)['problems']
    assert any('network mode host' in p for p in problems)
    assert any('tmpfs mount' in p for p in problems)
    assert any('QUEUE_BULL_REDIS_PASSWORD holds characters' in p for p in problems)
    assert not any('zz qq' in p for p in problems)  # a secret's value is never quoted


def test_data_inside_the_container_only_is_refused():
    problems = adoption(starter_kit(Mounts=[]), IMAGE_ENV)['problems']
    assert any('lives only in the container' in p for p in problems)


def test_a_bind_folder_is_the_data():
    plan = adoption(starter_kit(Mounts=[{'Type': 'bind', 'Source': '/srv/n8n', 'Destination': '/home/node/.n8n'}]))
    assert (plan['data'], plan['data_is_path']) == ('/srv/n8n', True)


def test_the_filter_takes_inspects_list():
    plan = FilterModule().filters()['n8n_adoption']([starter_kit()], image_env=IMAGE_ENV, network='llama-network')
    assert plan['networks'] == ['starter_demo']
