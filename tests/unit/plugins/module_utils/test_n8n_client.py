"""The n8n client (pagination, errors, retries) and the backup files."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError

KEY = 'n8n-test-key-0123456789'
URL = 'http://127.0.0.1:5678'


class Module(object):
    params = {'validate_certs': True}
    tmpdir = '/tmp'


def page(items, offset=None, limit=250):
    cursor = None
    if offset is not None:
        cursor = base64.b64encode(json.dumps({'limit': limit, 'offset': offset}).encode()).decode()
    return {'data': items, 'nextCursor': cursor}


def client(retries=0):
    return _n8n.N8nClient(Module(), URL + '/', KEY, timeout=5, retries=retries, delay=0)


def test_pagination_follows_next_cursor_with_limit_250(fetch_script):
    first = page([{'id': 'a'}, {'id': 'b'}], offset=2)
    second = page([{'id': 'c'}], offset=3)
    script = fetch_script([('GET', '/api/v1/workflows?limit=250', 200, first),
                           ('GET', '/api/v1/workflows?limit=250&cursor=' + first['nextCursor'], 200, second),
                           ('GET', '/api/v1/workflows?limit=250&cursor=' + second['nextCursor'], 200, page([]))])
    c = client()
    assert [w['id'] for w in c.list_workflows()] == ['a', 'b', 'c']
    assert c.counts == {'GET': 3}
    for call in script.calls:
        assert 'limit=250' in call['url'] and 'limit=0' not in call['url']
        assert call['headers']['X-N8N-API-KEY'] == KEY


def test_pagination_stops_on_null_cursor_and_filters_active(fetch_script):
    script = fetch_script([('GET', '/api/v1/workflows?limit=250&active=true', 200, page([{'id': 'a'}]))])
    assert [w['id'] for w in client().list_workflows(active_only=True)] == ['a']
    assert len(script.calls) == 1


def test_pagination_never_loops_on_a_repeated_cursor(fetch_script):
    looping = page([{'id': 'a'}], offset=0)
    fetch_script([('GET', '/api/v1/workflows?limit=250', 200, looping),
                  ('GET', '&cursor=' + looping['nextCursor'], 200, looping)])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    assert 'repeats a page' in str(caught.value)


def test_pagination_is_bounded(fetch_script):
    steps = []
    for index in range(3):
        steps.append(('GET', '', 200, page([{'id': str(index)}], offset=index + 1)))
    fetch_script(steps)
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows(max_pages=3))
    assert 'more than 3 pages' in str(caught.value)


@pytest.mark.parametrize('size', [0, -1, 251])
def test_page_size_must_be_1_to_250(size):
    with pytest.raises(ValueError):
        list(client().list_workflows(page_size=size))


def test_not_json_is_explained(fetch_script):
    fetch_script([('GET', '/api/v1/workflows?limit=250', 200, b'n8n is starting up. Please wait')])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    message = _n8n.explain(caught.value, URL)
    assert 'not as n8n' in message and 'GET /api/v1/workflows?limit=250' in message


def test_retries_on_5xx_429_and_reset_then_succeeds(fetch_script):
    script = fetch_script([
        ('PUT', '/api/v1/workflows/w1', 503, b'busy'),
        ('PUT', '/api/v1/workflows/w1', 429, b'slow down'),
        ('PUT', '/api/v1/workflows/w1', -1, 'Connection failure: [Errno 104] Connection reset by peer'),
        ('PUT', '/api/v1/workflows/w1', 200, {'id': 'w1'})])
    assert client(retries=3).put_workflow('w1', {'name': 'x'}) == {'id': 'w1'}
    assert len(script.calls) == 4


def test_reset_while_reading_is_retried(fetch_script, monkeypatch):
    from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _http
    script = fetch_script([('GET', '/api/v1/workflows/w1', 200, {'id': 'w1'}),
                           ('GET', '/api/v1/workflows/w1', 200, {'id': 'w1'})])
    real = script.__call__
    state = {'n': 0}

    class Broken(object):
        def read(self):
            raise ConnectionResetError(104, 'Connection reset by peer')

    def flaky(*args, **kwargs):
        resp, info = real(*args, **kwargs)
        state['n'] += 1
        return (Broken(), info) if state['n'] == 1 else (resp, info)
    monkeypatch.setattr(_http, 'fetch_url', flaky)
    assert client(retries=1).get_workflow('w1') == {'id': 'w1'}
    assert state['n'] == 2


def test_4xx_is_not_retried(fetch_script):
    script = fetch_script([('PUT', '/api/v1/workflows/w1', 400, {'message': 'Cannot update an archived workflow.'})])
    with pytest.raises(ApiError) as caught:
        client(retries=3).put_workflow('w1', {})
    assert len(script.calls) == 1
    assert 'HTTP 400 Cannot update an archived workflow.' in _n8n.explain(caught.value, URL)


@pytest.mark.parametrize('status,body,words', [
    (401, {'message': 'Unauthorized'}, ['refused the API key', 'HTTP 401', 'GET /api/v1/workflows']),
    (403, {'message': 'Forbidden'}, ['HTTP 403', 'workflow:list', 'scope']),
    (404, {'message': 'not found'}, ['no public API']),
])
def test_http_errors_are_explained(fetch_script, status, body, words):
    fetch_script([('GET', '/api/v1/workflows?limit=250', status, body)])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    message = _n8n.explain(caught.value, URL)
    for word in words:
        assert word in message
    assert KEY not in message


@pytest.mark.parametrize('msg,words', [
    ('Request failed: <urlopen error [Errno 111] Connection refused>', ['connection refused', 'Is n8n running']),
    ('Request failed: <urlopen error timed out>', ['did not answer']),
    ('Request failed: <urlopen error [Errno -2] Name or service not known>', ['Cannot resolve']),
])
def test_connection_errors_are_explained(fetch_script, msg, words):
    fetch_script([('GET', '/api/v1/workflows?limit=250', -1, msg)])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    message = _n8n.explain(caught.value, URL)
    for word in words:
        assert word in message
    assert _n8n.is_global_failure(caught.value)


def test_workflow_ids_are_quoted(fetch_script):
    script = fetch_script([('POST', '/api/v1/workflows/a%2Fb/activate', 200, {'id': 'a/b'})])
    client().activate('a/b', 'v1')
    assert script.calls[0]['data'] == {'versionId': 'v1'}


@pytest.mark.parametrize('params,words', [
    ({'url': 'localhost:5678'}, 'base URL of n8n'),
    ({'url': 'http://'}, 'base URL of n8n'),
    ({'api_key': ' '}, 'api_key'),
    ({'timeout': 0}, 'timeout'),
    ({'retries': -1}, 'retries'),
    ({'delay': -1}, 'delay'),
])
def test_validate_connection(params, words):
    base = {'url': URL, 'api_key': KEY, 'timeout': 30, 'retries': 3, 'delay': 1}
    base.update(params)
    assert words in _n8n.validate_connection(base)
    assert _n8n.validate_connection(dict(base, url=URL, api_key=KEY, timeout=1, retries=0, delay=0)) is None


# ---------------------------------------------------------------------------------------------
# backups

def test_backup_files(tmp_path):
    stamp = _n8n.run_stamp()
    folder = _n8n.make_run_folder(str(tmp_path / 'b' / 'c'), stamp)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and os.path.basename(folder) == stamp
    second = _n8n.make_run_folder(str(tmp_path / 'b' / 'c'), stamp)
    assert second != folder and second.startswith(folder)
    wf = {'id': 'w1', 'name': 'ü', 'nodes': [], 'connections': {}, 'active': True, 'pinData': {'a': 1}}
    path = _n8n.write_backup(folder, wf, stamp)
    assert os.path.basename(path) == 'w1-%s.json' % stamp
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        assert json.load(handle) == wf
    with pytest.raises(OSError):
        _n8n.write_backup(folder, wf, stamp)      # never overwrites
    assert _n8n.read_backups(path) == ([(path, wf)], [])
    assert _n8n.read_backups(folder) == ([(path, wf)], [])
    assert [n for n in os.listdir(folder) if n.endswith('.tmp')] == [], 'no temporary file is left'


def test_read_backups_refuses_what_is_not_a_backup(tmp_path):
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path / 'missing'))
    assert 'does not exist' in str(caught.value)
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path))
    assert 'no *.json' in str(caught.value)
    (tmp_path / 'x.json').write_text('{"id": "a"}')
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path))
    assert 'not an n8n workflow backup' in str(caught.value)
    (tmp_path / 'x.json').write_text('not json')
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path))
    assert 'cannot read' in str(caught.value)
    wf = {'id': 'a', 'name': 'n', 'nodes': [], 'connections': {}}
    (tmp_path / 'x.json').write_text(json.dumps(wf))
    (tmp_path / 'y.json').write_text(json.dumps(wf))
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path))
    assert 'same workflow a' in str(caught.value)


def test_retry_after_is_honoured_up_to_a_cap(monkeypatch):
    from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _http
    sleeps = []
    answers = [(None, {'status': 429, 'body': b'slow', 'retry-after': '7'}),
               (None, {'status': 429, 'body': b'slow', 'retry-after': '3600'}),
               (None, {'status': 503, 'body': b'busy', 'retry-after': 'soon'}),
               (None, {'status': 500, 'body': b'{"message": "boom"}'})]
    monkeypatch.setattr(_http, 'fetch_url', lambda *a, **k: answers.pop(0))
    monkeypatch.setattr(_http.time, 'sleep', sleeps.append)
    with pytest.raises(ApiError) as caught:
        client(retries=3).get_workflow('w1')
    assert sleeps == [7.0, _http.MAX_RETRY_AFTER, 0]
    assert caught.value.status == 500 and 'HTTP 500 boom' in _n8n.explain(caught.value, URL)


# ---------------------------------------------------------------------------------------------
# Over the real fetch_url, against local servers: redirects, and a create whose answer is lost.

class Credentials(object):
    """n8n's /api/v1/credentials (list and create) and /activate; ``lose`` answers of the POSTs are lost."""

    def __init__(self, lose=(), creates=True):
        self.items, self.lose, self.creates = [], list(lose), creates

    def __call__(self, server, request):
        if request['headers'].get('x-n8n-api-key') != KEY:
            return 401, {}, {'message': 'Unauthorized'}
        path = request['path'].split('?')[0]
        if request['method'] == 'GET' and path == '/api/v1/credentials':
            return 200, {}, {'data': self.items, 'nextCursor': None}
        lost = self.lose.pop(0) if self.lose else None
        if path.endswith('/activate'):
            return lost or (200, {}, {'id': 'w1', 'active': True})
        if lost is None or self.creates:
            body = json.loads(request['body'])
            self.items.append({'id': 'cred%d' % (len(self.items) + 1), 'name': body['name'], 'type': body['type']})
        return lost or (200, {}, self.items[-1])


@pytest.fixture
def live_client(ansible_module):
    def make(url, retries=2, timeout=5):
        module = ansible_module(_n8n.connection_argument_spec(), {'url': url, 'api_key': KEY})
        return _n8n.N8nClient(module, url, KEY, timeout=timeout, retries=retries, delay=0)
    return make


@pytest.mark.parametrize('status', [301, 302, 307, 308])
def test_a_redirect_to_another_origin_never_gets_the_api_key(local_server, live_client, status):
    other = local_server(lambda server, request: (200, {}, page([{'id': 'stolen'}])))
    first = local_server(lambda server, request: (status, {'Location': other.url + request['path']}, b''))
    with pytest.raises(ApiError) as caught:
        list(live_client(first.url).list_workflows())
    assert caught.value.kind == 'redirect' and _n8n.is_global_failure(caught.value)
    assert other.requests == []
    assert first.requests[0]['headers']['x-n8n-api-key'] == KEY
    message = _n8n.explain(caught.value, first.url)
    assert other.url + '/api/v1/workflows?limit=250' in message and 'another origin' in message
    assert 'answers directly' in message and KEY not in message


def test_a_create_is_not_redirected_elsewhere_either(local_server, live_client):
    other = local_server(Credentials())
    first = local_server(lambda server, request: (307, {'Location': other.url + request['path']}, b''))
    with pytest.raises(ApiError) as caught:
        live_client(first.url).create_credential('LiteLLM', 'httpHeaderAuth', {'name': 'Authorization', 'value': 'v'})
    assert caught.value.kind == 'redirect' and other.requests == [] and len(first.requests) == 1


def test_a_same_origin_redirect_is_followed_with_the_key(local_server, live_client):
    def answer(server, request):
        if not request['path'].startswith('/n8n/'):
            return 301, {'Location': '/n8n' + request['path']}, b''
        return 200, {}, page([{'id': 'a'}]) if request['headers'].get('x-n8n-api-key') == KEY else (401, {}, b'')
    server = local_server(answer)
    assert [w['id'] for w in live_client(server.url).list_workflows()] == ['a']
    assert [r['path'] for r in server.requests] == ['/api/v1/workflows?limit=250', '/n8n/api/v1/workflows?limit=250']


@pytest.mark.parametrize('lost', ['reset', (502, {}, {'message': 'Bad Gateway'}), ('stall', 1.0, 200, {}, {})])
def test_a_created_credential_whose_answer_is_lost_is_found_not_duplicated(local_server, live_client, lost):
    n8n = Credentials(lose=[lost])
    server = local_server(n8n)
    c = live_client(server.url, timeout=0.3)
    created = c.create_credential('LiteLLM', 'httpHeaderAuth', {'name': 'Authorization', 'value': 'Bearer x'})
    assert created == {'id': 'cred1', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'}
    assert len(n8n.items) == 1
    assert [(r['method'], r['path']) for r in server.requests] == [
        ('POST', '/api/v1/credentials'), ('GET', '/api/v1/credentials?limit=250')]
    assert c.counts == {'POST': 1, 'GET': 1}


def test_a_credential_that_was_not_created_is_created_once(local_server, live_client):
    n8n = Credentials(lose=[(503, {}, {'message': 'starting'})], creates=False)
    server = local_server(n8n)
    created = live_client(server.url).create_credential('LiteLLM', 'httpHeaderAuth', {'name': 'A', 'value': 'v'})
    assert created['id'] == 'cred1' and len(n8n.items) == 1
    assert [r['method'] for r in server.requests] == ['POST', 'GET', 'POST']


def test_a_lost_create_that_finds_several_credentials_names_them(local_server, live_client):
    n8n = Credentials(lose=['reset'])
    n8n.items.append({'id': 'cred0', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'})   # made meanwhile elsewhere
    server = local_server(n8n)
    with pytest.raises(ApiError) as caught:
        live_client(server.url).create_credential('LiteLLM', 'httpHeaderAuth', {'name': 'A', 'value': 'v'})
    assert caught.value.kind == 'duplicate' and 'cred0, cred2' in _n8n.explain(caught.value, server.url)
    assert [r['method'] for r in server.requests] == ['POST', 'GET']


def test_a_create_is_retried_only_within_retries(local_server, live_client):
    n8n = Credentials(lose=['reset'])
    server = local_server(n8n)
    with pytest.raises(ApiError) as caught:
        live_client(server.url, retries=0).create_credential('LiteLLM', 'httpHeaderAuth', {'name': 'A', 'value': 'v'})
    assert caught.value.kind == 'reset' and [r['method'] for r in server.requests] == ['POST']


def test_activate_sets_a_state_and_is_retried_after_a_reset(local_server, live_client):
    server = local_server(Credentials(lose=['reset']))
    assert live_client(server.url).activate('w1', 'v1') == {'id': 'w1', 'active': True}
    assert [(r['method'], r['path']) for r in server.requests] == [('POST', '/api/v1/workflows/w1/activate')] * 2


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = str(tmp_path / 'state.json')
    _n8n.atomic_write(path, b'old')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    _n8n.atomic_write(path, b'new')
    assert open(path, 'rb').read() == b'new'

    def crash(src, dst):
        raise OSError('disk gone')
    monkeypatch.setattr(_n8n.os, 'replace', crash)
    with pytest.raises(OSError):
        _n8n.atomic_write(path, b'half')
    assert open(path, 'rb').read() == b'new', 'a failed write leaves the old file'
    assert sorted(os.listdir(str(tmp_path))) == ['state.json'], 'and no temporary file'


def test_backup_is_written_through_a_fsynced_temporary_file(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(_n8n.os, 'fsync', lambda fd: synced.append(fd) or real_fsync(fd))
    renamed = []
    real_link = os.link
    monkeypatch.setattr(_n8n.os, 'link', lambda src, dst: renamed.append((src, dst)) or real_link(src, dst))
    path = _n8n.write_backup(str(tmp_path), {'id': 'w1', 'name': 'n', 'nodes': [], 'connections': {}}, 'S')
    assert renamed and os.path.dirname(renamed[0][0]) == str(tmp_path) and renamed[0][0].endswith('.tmp')
    assert renamed[0][1] == path and len(synced) >= 2, 'the file and its folder are fsynced'
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]


def test_read_backups_ignores_leftovers_and_damaged_files_with_a_warning(tmp_path):
    good = {'id': 'a', 'name': 'n', 'nodes': [], 'connections': {}}
    (tmp_path / 'a-S.json').write_text(json.dumps(good))
    (tmp_path / '.b-S.json.x1y2.tmp').write_text('{"id": "b", "na')
    (tmp_path / 'c-S.json').write_text('{"id": "c", "na')        # cut short
    (tmp_path / 'journal.json').write_text('{}')                  # the run's journal is no backup
    found, warnings = _n8n.read_backups(str(tmp_path))
    assert found == [(str(tmp_path / 'a-S.json'), good)]
    assert len(warnings) == 2
    assert 'leftover of an interrupted backup write' in warnings[0] and '.b-S.json.x1y2.tmp' in warnings[0]
    assert 'cannot read the backup' in warnings[1] and 'c-S.json' in warnings[1] and 'ignored' in warnings[1]
    with pytest.raises(ValueError) as caught:
        _n8n.read_backups(str(tmp_path / 'c-S.json'))                 # named alone, it still fails
    assert 'cannot read the backup' in str(caught.value)


def test_backup_without_hard_links_still_never_overwrites(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, 'Operation not permitted')
    monkeypatch.setattr(_n8n.os, 'link', no_links)
    wf = {'id': 'w1', 'name': 'n', 'nodes': [], 'connections': {}}
    path = _n8n.write_backup(str(tmp_path), wf, 'S')
    assert json.loads(open(path).read()) == wf and os.listdir(str(tmp_path)) == ['w1-S.json']
    with pytest.raises(FileExistsError):
        _n8n.write_backup(str(tmp_path), dict(wf, name='other'), 'S')
    assert json.loads(open(path).read()) == wf and os.listdir(str(tmp_path)) == ['w1-S.json']
