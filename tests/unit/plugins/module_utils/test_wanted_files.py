# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the stack and nginx roles write, as stale_paths compares it."""

from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._files import stale_paths
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._wanted_files import (
    nginx_wanted_files, stack_wanted_files,
)

ROOT = '/srv/llm-gateway'
ENV = ROOT + '/env'
N8N = {'uid': 1000, 'secret_files': {'N8N_ENCRYPTION_KEY': 'k' * 32, 'N8N_RUNNERS_AUTH_TOKEN': 't' * 32},
       'env_file': 'DB_POSTGRESDB_PASSWORD=p\n'}
DATA = [{'folder': 'postgres-secrets', 'file': 'POSTGRES_PASSWORD', 'content': 'pg'},
        {'folder': 'redis', 'file': 'redis.conf', 'content': 'requirepass r\n'}]


def test_the_stack_writes_its_secrets_readable_by_each_image_user_only():
    wanted = stack_wanted_files(ROOT, ENV, 'services: {}\n', n8n=N8N, data_secrets=DATA, data_uid=999)
    assert [(w['path'], w.get('state', 'file'), w['owner'], w['group'], w['mode']) for w in wanted] == [
        (ENV, 'directory', 'root', 'root', '0700'),
        (ROOT + '/docker-compose.yml', 'file', 'root', 'root', '0644'),
        (ENV + '/n8n-secrets', 'directory', '1000', '1000', '0500'),
        (ENV + '/n8n-secrets/N8N_ENCRYPTION_KEY', 'file', '1000', '1000', '0400'),
        (ENV + '/n8n-secrets/N8N_RUNNERS_AUTH_TOKEN', 'file', '1000', '1000', '0400'),
        (ENV + '/n8n.env', 'file', 'root', 'root', '0600'),
        (ENV + '/postgres-secrets', 'directory', '999', '999', '0500'),
        (ENV + '/postgres-secrets/POSTGRES_PASSWORD', 'file', '999', '999', '0400'),
        (ENV + '/redis', 'directory', '999', '999', '0500'),
        (ENV + '/redis/redis.conf', 'file', '999', '999', '0400'),
    ]
    contents = dict((w['path'], w['content']) for w in wanted if 'content' in w)
    assert contents[ENV + '/n8n-secrets/N8N_ENCRYPTION_KEY'] == 'k' * 32
    assert contents[ENV + '/redis/redis.conf'] == 'requirepass r\n'
    assert all('content' not in w for w in wanted if w.get('state') == 'directory')


def test_an_attached_n8n_gets_none_of_its_files_from_the_stack():
    wanted = stack_wanted_files(ROOT, ENV, 'services: {}\n')
    assert [w['path'] for w in wanted] == [ENV, ROOT + '/docker-compose.yml']


def test_nginx_writes_each_rendering_and_its_keys_for_root_only():
    files = [{'src': 'nginx.conf.j2', 'dest': 'nginx.conf'}, {'src': 'gw.conf.j2', 'dest': 'conf.d/gw.conf'}]
    wanted = nginx_wanted_files('/srv/nginx', files, ['a', 'b'], 'conf.d/keys.conf', 'map {}')
    assert [(w['path'], w.get('content'), w['mode']) for w in wanted] == [
        ('/srv/nginx/conf.d', None, '0755'), ('/srv/nginx/nginx.conf', 'a', '0644'),
        ('/srv/nginx/conf.d/gw.conf', 'b', '0644'), ('/srv/nginx/conf.d/keys.conf', 'map {}', '0600')]
    with pytest.raises(ValueError):
        nginx_wanted_files('/srv/nginx', files, ['a'], 'keys.conf', '')


def test_what_find_reports_as_written_is_not_stale():
    wanted = stack_wanted_files(ROOT, ENV, 'c', data_secrets=DATA[:1], data_uid=999)
    found = [{'path': ENV, 'isdir': True, 'isreg': False, 'mode': '0700', 'pw_name': 'root', 'gr_name': 'root',
              'uid': 0, 'gid': 0},
             {'path': ROOT + '/docker-compose.yml', 'isdir': False, 'isreg': True, 'mode': '0644', 'pw_name': 'root',
              'gr_name': 'root', 'uid': 0, 'gid': 0, 'checksum': 'a9993e364706816aba3e25717850c26c9cd0d89d'}]
    # 'abc' has that checksum; 'c' does not: the compose file is stale, and so is the missing Postgres folder.
    assert stale_paths(found, wanted) == [ROOT + '/docker-compose.yml', ENV + '/postgres-secrets',
                                          ENV + '/postgres-secrets/POSTGRES_PASSWORD']
