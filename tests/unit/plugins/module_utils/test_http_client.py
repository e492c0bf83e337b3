"""The shared JSON client over the real fetch_url, against local servers: redirects and retries."""

from __future__ import annotations

import json

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _http
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import (
    MAX_REDIRECTS, ApiError, JsonHttpClient,
)

SECRET = 'Bearer http-core-secret-5d1e'
SPEC = dict(validate_certs=dict(type='bool', default=True))


@pytest.fixture
def client(ansible_module):
    def make(url, retries=0, timeout=5):
        return JsonHttpClient(ansible_module(SPEC, {}), url, secret_headers={'Authorization': SECRET},
                              timeout=timeout, retries=retries, delay=0)
    return make


def redirect(location, status=302):
    return lambda server, request: (status, {'Location': location}, b'')


def ok(server, request):
    answer = {'path': request['path'], 'method': request['method'], 'body': request['body'].decode()}
    return 200, {'Content-Type': 'application/json'}, answer


def assert_redirect_error(error, status, location):
    assert isinstance(error, ApiError) and error.kind == 'redirect' and error.status == status
    assert location in str(error) and 'answers directly' in str(error)
    assert SECRET not in str(error) and 'http-core-secret' not in str(error)


# -- redirects ----------------------------------------------------------------------------------

@pytest.mark.parametrize('method,status', [('GET', 302), ('GET', 301), ('POST', 307), ('PUT', 308), ('POST', 302)])
def test_a_redirect_to_another_origin_is_an_error_and_the_other_origin_gets_nothing(
        local_server, client, method, status):
    other = local_server(ok)
    first = local_server(redirect(other.url + '/api/tags', status))
    with pytest.raises(ApiError) as caught:
        client(first.url, retries=3).json(method, '/api/tags', payload={'x': 1} if method != 'GET' else None)
    assert_redirect_error(caught.value, status, other.url + '/api/tags')
    assert 'another origin than %s' % first.url in str(caught.value)
    assert other.requests == []
    # Asked once, at the address the caller named (a redirect is not retried).
    assert len(first.requests) == 1 and first.requests[0]['headers']['authorization'] == SECRET


@pytest.mark.parametrize('location', ['https://127.0.0.1:%(port)d/api/tags', 'http://localhost:%(port)d/api/tags'])
def test_another_scheme_or_host_name_is_another_origin(local_server, client, location):
    first = local_server(lambda server, request: (302, {'Location': location % {'port': server.port}}, b''))
    with pytest.raises(ApiError) as caught:
        client(first.url).json('GET', '/api/tags')
    assert_redirect_error(caught.value, 302, location % {'port': first.port})
    assert len(first.requests) == 1


def test_a_password_in_the_location_is_masked(local_server, client):
    other = local_server(ok)
    first = local_server(redirect('http://user:hunter2@127.0.0.1:%d/x' % other.port))
    with pytest.raises(ApiError) as caught:
        client(first.url).json('GET', '/x')
    assert 'hunter2' not in str(caught.value) and '127.0.0.1:%d/x' % other.port in str(caught.value)
    assert other.requests == []


def test_a_redirect_without_location_is_an_error(local_server, client):
    first = local_server(lambda server, request: (302, {}, b''))
    with pytest.raises(ApiError) as caught:
        client(first.url).json('GET', '/x')
    assert caught.value.kind == 'redirect' and 'without a Location' in str(caught.value)


def test_same_origin_302_is_followed_by_get_with_the_headers(local_server, client):
    def answer(server, request):
        if request['path'] == '/old':
            return 302, {'Location': '/new?q=1'}, b''
        return ok(server, request)
    server = local_server(answer)
    c = client(server.url)
    assert c.json('GET', '/old') == {'path': '/new?q=1', 'method': 'GET', 'body': ''}
    assert [r['path'] for r in server.requests] == ['/old', '/new?q=1']
    assert all(r['headers']['authorization'] == SECRET for r in server.requests)
    assert c.counts == {'GET': 2}


@pytest.mark.parametrize('status,method', [(307, 'POST'), (308, 'POST'), (307, 'PUT'), (308, 'DELETE')])
def test_same_origin_307_and_308_keep_the_method_and_the_body(local_server, client, status, method):
    def answer(server, request):
        if request['path'] == '/old':
            return status, {'Location': server.url + '/new'}, b''
        return ok(server, request)
    server = local_server(answer)
    answer_ = client(server.url).json(method, '/old', payload={'name': 'x'})
    assert answer_ == {'path': '/new', 'method': method, 'body': json.dumps({'name': 'x'})}
    assert [r['method'] for r in server.requests] == [method, method]
    assert server.requests[1]['headers']['content-type'] == 'application/json'


@pytest.mark.parametrize('status', [301, 302, 303])
def test_a_write_is_not_turned_into_a_get(local_server, client, status):
    def answer(server, request):
        if request['path'] == '/old':
            return status, {'Location': '/new'}, b''
        return ok(server, request)
    server = local_server(answer)
    with pytest.raises(ApiError) as caught:
        client(server.url, retries=3).json('POST', '/old', payload={'name': 'x'})
    assert caught.value.kind == 'redirect' and 'turn it into a GET' in str(caught.value)
    assert [(r['method'], r['path']) for r in server.requests] == [('POST', '/old')]


def test_redirects_are_bounded(local_server, client):
    server = local_server(lambda server, request: (302, {'Location': '/loop%d' % len(server.requests)}, b''))
    with pytest.raises(ApiError) as caught:
        client(server.url).json('GET', '/loop')
    assert caught.value.kind == 'redirect' and 'more than %d redirects' % MAX_REDIRECTS in str(caught.value)
    assert len(server.requests) == MAX_REDIRECTS + 1


def test_a_followed_redirect_may_not_leave_the_origin_later(local_server, client):
    other = local_server(ok)

    def answer(server, request):
        return 302, {'Location': '/second' if request['path'] == '/first' else other.url + '/third'}, b''
    first = local_server(answer)
    with pytest.raises(ApiError) as caught:
        client(first.url).json('GET', '/first')
    assert_redirect_error(caught.value, 302, other.url + '/third')
    assert [r['path'] for r in first.requests] == ['/first', '/second'] and other.requests == []


# -- retries ------------------------------------------------------------------------------------

def flaky(first, then=ok):
    """Answer the first request with FIRST, the others with THEN."""
    return lambda server, request: first if len(server.requests) == 1 else then(server, request)


def test_a_post_whose_connection_is_reset_is_not_sent_again(local_server, client):
    server = local_server(flaky('reset'))
    with pytest.raises(ApiError) as caught:
        client(server.url, retries=3).json('POST', '/api/items', payload={'name': 'x'})
    assert caught.value.kind == 'reset' and len(server.requests) == 1


def test_a_post_that_timed_out_is_not_sent_again(local_server, client):
    server = local_server(flaky(('stall', 1.0, 200, {}, {'id': 'late'})))
    with pytest.raises(ApiError) as caught:
        client(server.url, retries=3, timeout=0.3).json('POST', '/api/items', payload={'name': 'x'})
    assert caught.value.kind == 'timeout' and len(server.requests) == 1


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_a_post_answered_5xx_is_not_sent_again(local_server, client, status):
    server = local_server(flaky((status, {}, b'upstream trouble')))
    with pytest.raises(ApiError) as caught:
        client(server.url, retries=3).json('POST', '/api/items', payload={'name': 'x'})
    assert caught.value.status == status and len(server.requests) == 1


def test_a_post_answered_429_is_sent_again(local_server, client):
    server = local_server(flaky((429, {'Retry-After': '0'}, b'slow down')))
    assert client(server.url, retries=1).json('POST', '/api/items', payload={'name': 'x'})['method'] == 'POST'
    assert len(server.requests) == 2


def test_a_refused_post_is_sent_again(client, closed_port):
    c = client('http://127.0.0.1:%d' % closed_port, retries=2)
    with pytest.raises(ApiError) as caught:
        c.json('POST', '/api/items', payload={'name': 'x'})
    assert caught.value.kind == 'refused' and c.counts == {'POST': 3}


@pytest.mark.parametrize('first', ['reset', (503, {}, b'busy'), ('stall', 1.0, 200, {}, {})])
def test_an_idempotent_request_is_sent_again(local_server, client, first):
    server = local_server(flaky(first))
    assert client(server.url, retries=1, timeout=0.3).json('PUT', '/api/items/1', payload={'a': 1})['method'] == 'PUT'
    assert len(server.requests) == 2


def test_a_post_declared_idempotent_is_sent_again(local_server, client):
    server = local_server(flaky('reset'))
    assert client(server.url, retries=1).json('POST', '/activate', payload={}, idempotent=True)['path'] == '/activate'
    assert len(server.requests) == 2


class Items:
    """A tiny create API: POST /items creates; GET /items lists. ``lose`` answers of POSTs are lost."""

    def __init__(self, lose, creates=True):
        self.items, self.lose, self.creates = [], list(lose), creates

    def __call__(self, server, request):
        if request['method'] == 'GET':
            return 200, {}, {'data': self.items}
        lost = self.lose.pop(0) if self.lose else None
        if lost is None or self.creates:
            self.items.append(dict(json.loads(request['body']), id=len(self.items) + 1))
        return lost or (200, {}, self.items[-1])


def landed_in(c, name):
    def landed():
        found = [i for i in c.json('GET', '/items')['data'] if i['name'] == name]
        return found[0] if found else None
    return landed


@pytest.mark.parametrize('lost', ['reset', (502, {}, b'bad gateway'), ('stall', 1.0, 200, {}, {})])
def test_a_checked_create_that_landed_is_found_not_repeated(local_server, client, lost):
    items = Items([lost])
    server = local_server(items)
    c = client(server.url, retries=2, timeout=0.3)
    assert c.json_checked('POST', '/items', {'name': 'a'}, landed_in(c, 'a')) == {'name': 'a', 'id': 1}
    assert [r['method'] for r in server.requests] == ['POST', 'GET'] and len(items.items) == 1


def test_a_checked_create_that_did_not_land_is_sent_again_once(local_server, client):
    items = Items([(503, {}, b'not now')], creates=False)
    server = local_server(items)
    c = client(server.url, retries=2)
    assert c.json_checked('POST', '/items', {'name': 'a'}, landed_in(c, 'a')) == {'name': 'a', 'id': 1}
    assert [r['method'] for r in server.requests] == ['POST', 'GET', 'POST'] and len(items.items) == 1


def test_a_checked_create_is_not_looked_up_after_a_refusal_or_a_client_error(local_server, client, closed_port):
    c = client('http://127.0.0.1:%d' % closed_port, retries=1)
    with pytest.raises(ApiError):
        c.json_checked('POST', '/items', {'name': 'a'}, lambda: pytest.fail('looked up after a refusal'))
    assert c.counts == {'POST': 2}
    server = local_server(lambda server, request: (400, {}, b'bad'))
    with pytest.raises(ApiError) as caught:
        client(server.url, retries=3).json_checked('POST', '/items', {}, lambda: pytest.fail('looked up'))
    assert caught.value.status == 400 and len(server.requests) == 1


def test_the_transport_is_told_to_follow_no_redirect(monkeypatch, ansible_module):
    seen = {}

    def fake_fetch_url(module, url, **kwargs):
        seen['follow'] = module.params.get('follow_redirects')
        seen['validate_certs'] = module.params.get('validate_certs')
        return None, {'status': -1, 'msg': 'Connection refused', 'url': url}
    monkeypatch.setattr(_http, 'fetch_url', fake_fetch_url)
    module = ansible_module(SPEC, {'validate_certs': False})
    with pytest.raises(ApiError):
        JsonHttpClient(module, 'http://127.0.0.1:9').json('GET', '/x')
    assert seen == {'follow': 'none', 'validate_certs': False}
    assert 'follow_redirects' not in module.params


# -- the TLS context fetch_url builds per request ---------------------------------------------------

def test_plain_http_gets_the_unused_ca_file_and_https_keeps_fetch_urls_own(ansible_module, monkeypatch):
    seen = []

    def fake_fetch_url(module, url, **kwargs):
        seen.append((url, kwargs.get('ca_path')))
        return None, {'status': -1, 'msg': 'Request failed: <urlopen error [Errno 111] Connection refused>'}
    monkeypatch.setattr(_http, 'fetch_url', fake_fetch_url)
    module = ansible_module(SPEC, {})
    _http.send_with_fetch_url(module, 'http://127.0.0.1:9/x', method='GET')
    _http.send_with_fetch_url(module, 'https://127.0.0.1:9/x', method='GET')
    _http.send_with_fetch_url(module, 'http://127.0.0.1:9/x', method='GET', ca_path='/etc/mine.pem')
    (plain, ca), (tls, tls_ca), (dummy, mine) = seen
    assert tls_ca is None and mine == '/etc/mine.pem'
    with open(ca) as handle:
        assert handle.read() == _http.PLAIN_HTTP_CA
    assert '-----BEGIN CERTIFICATE-----' in _http.PLAIN_HTTP_CA and 'PRIVATE KEY' not in _http.PLAIN_HTTP_CA


def test_a_real_plain_http_request_works_with_the_unused_ca_file(local_server, client):
    server = local_server(ok)
    assert client(server.url).request('GET', '/ping').json()['path'] == '/ping'
