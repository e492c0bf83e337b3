"""The n8n client: pagination, errors, retries, redirects and creates whose answer is lost."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_client
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
    return _n8n_client.N8nClient(Module(), URL + '/', KEY, timeout=5, retries=retries, delay=0)


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
    message = _n8n_client.explain(caught.value, URL)
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
    assert 'HTTP 400 Cannot update an archived workflow.' in _n8n_client.explain(caught.value, URL)


@pytest.mark.parametrize('status,body,words', [
    (401, {'message': 'Unauthorized'}, ['refused the API key', 'HTTP 401', 'GET /api/v1/workflows']),
    (403, {'message': 'Forbidden'}, ['HTTP 403', 'workflow:list', 'scope']),
    (404, {'message': 'not found'}, ['no public API']),
])
def test_http_errors_are_explained(fetch_script, status, body, words):
    fetch_script([('GET', '/api/v1/workflows?limit=250', status, body)])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    message = _n8n_client.explain(caught.value, URL)
    for word in words:
        assert word in message
    assert KEY not in message


def test_an_n8n_that_cannot_list_credentials_is_explained(fetch_script):
    # n8n 1.x: GET /api/v1/credentials answers 405 (seen on 1.123.81).
    fetch_script([('GET', '/api/v1/credentials?limit=250', 405, {'message': 'GET method not allowed'})])
    with pytest.raises(ApiError) as caught:
        list(client().list_credentials())
    message = _n8n_client.explain(caught.value, URL)
    assert 'answered HTTP 405' in message and 'cannot list credentials, as n8n before 2.0 cannot' in message
    assert 'move n8n to 2.0 or later first' in message and 'HTTP 405 GET method not allowed' in message


@pytest.mark.parametrize('msg,words', [
    ('Request failed: <urlopen error [Errno 111] Connection refused>', ['connection refused', 'Is n8n running']),
    ('Request failed: <urlopen error timed out>', ['did not answer']),
    ('Request failed: <urlopen error [Errno -2] Name or service not known>', ['Cannot resolve']),
])
def test_connection_errors_are_explained(fetch_script, msg, words):
    fetch_script([('GET', '/api/v1/workflows?limit=250', -1, msg)])
    with pytest.raises(ApiError) as caught:
        list(client().list_workflows())
    message = _n8n_client.explain(caught.value, URL)
    for word in words:
        assert word in message
    assert _n8n_client.is_global_failure(caught.value)


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
    assert words in _n8n_client.validate_connection(base)
    assert _n8n_client.validate_connection(dict(base, url=URL, api_key=KEY, timeout=1, retries=0, delay=0)) is None


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
    assert caught.value.status == 500 and 'HTTP 500 boom' in _n8n_client.explain(caught.value, URL)


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
        module = ansible_module(_n8n_client.connection_argument_spec(), {'url': url, 'api_key': KEY})
        return _n8n_client.N8nClient(module, url, KEY, timeout=timeout, retries=retries, delay=0)
    return make


@pytest.mark.parametrize('status', [301, 302, 307, 308])
def test_a_redirect_to_another_origin_never_gets_the_api_key(local_server, live_client, status):
    other = local_server(lambda server, request: (200, {}, page([{'id': 'stolen'}])))
    first = local_server(lambda server, request: (status, {'Location': other.url + request['path']}, b''))
    with pytest.raises(ApiError) as caught:
        list(live_client(first.url).list_workflows())
    assert caught.value.kind == 'redirect' and _n8n_client.is_global_failure(caught.value)
    assert other.requests == []
    assert first.requests[0]['headers']['x-n8n-api-key'] == KEY
    message = _n8n_client.explain(caught.value, first.url)
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
    assert caught.value.kind == 'duplicate' and 'cred0, cred2' in _n8n_client.explain(caught.value, server.url)
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
