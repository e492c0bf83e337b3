# Run inside a LiteLLM container by the litellm role's verify.yml:
#   python3 -c "<this file>" SHARED_NAMES_JSON TIMEOUT BASE_URL SECRET_ENV_FILE
# A 1-token chat completion, fallbacks off, for every name LiteLLM serves except the shared names (their backends
# answer to names of their own), so that every backend is asked once. The master key is read inside the container
# from its secret file, never passed. Prints {"asked": [names], "failed": {name: error}}.
import json
import sys
import urllib.error
import urllib.request


def main(shared_json, timeout, base, env_file):
    with open(env_file) as handle:
        env = dict(line.split('=', 1) for line in handle.read().splitlines() if '=' in line)
    auth = {'Authorization': 'Bearer ' + env['LITELLM_MASTER_KEY'], 'Content-Type': 'application/json'}
    shared, timeout = set(json.loads(shared_json)), float(timeout)

    def call(path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, headers=auth)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    names = sorted(m['id'] for m in call('/v1/models')['data'] if m['id'] not in shared)
    failed = {}
    for name in names:
        try:
            call('/v1/chat/completions', {'model': name, 'max_tokens': 1, 'disable_fallbacks': True,
                                          'messages': [{'role': 'user', 'content': 'ping'}]})
        except urllib.error.HTTPError as exc:
            failed[name] = 'HTTP %s %s' % (exc.code, exc.read()[:400].decode('utf-8', 'replace'))
        except Exception as exc:  # pylint: disable=broad-except
            failed[name] = repr(exc)[:400]
    return {'asked': names, 'failed': failed}


print(json.dumps(main(*sys.argv[1:5])))
