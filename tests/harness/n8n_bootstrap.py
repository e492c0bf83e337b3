"""Headless, idempotent bootstrap of a test n8n (stdlib only). Called by n8n.sh up.

1. Wait (bounded) until GET /rest/settings answers JSON; /healthz answers long before the
   REST controllers exist ("n8n is starting up" text, then 404 HTML).
2. If the env file already holds an API key that works on GET /api/v1/workflows?limit=1, keep it
   and do nothing else: no login (POST /rest/login is limited to 5 per minute per email).
3. Otherwise: create the owner if showSetupOnFirstLoad, else log in; delete the API keys with our
   label; create one with all scopes the owner may have and no expiry; check it on /api/v1.
4. Write the env file (mode 0600): N8N_URL, N8N_API_KEY, N8N_OWNER_EMAIL, N8N_OWNER_PASSWORD.

Progress goes to stderr; nothing is printed on stdout.
"""
import argparse
import os
import re
import sys
import time
import urllib.parse

from n8n_client import N8nClient, N8nError

DEFAULT_EMAIL = "owner@llm-gateway.test"
DEFAULT_PASSWORD = "LlmGateway-Test-Passw0rd"
KEY_LABEL = "llm-gateway-test"
# Values go into a KEY=VALUE file that is both sourced by shells and read as a docker env-file.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9@._+:/=,!%^*-]+$")


def log(msg):
    print(f"[n8n-bootstrap] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    log(f"ERROR: {msg}")
    sys.exit(1)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_ready(api, timeout, pid):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            resp = api.request("GET", "/rest/settings", timeout=5)
            if resp.status == 200 and isinstance(resp.data, dict) and isinstance(resp.data.get("data"), dict):
                return resp.data["data"]
            last = f"HTTP {resp.status}: {resp.raw[:60]!r}"
        except OSError as e:
            last = str(e)
        if pid and not pid_alive(pid):
            fail(f"n8n (pid {pid}) exited before its API came up ({last})")
        if time.monotonic() >= deadline:
            fail(f"no JSON from {api.url}/rest/settings after {timeout} s (last: {last})")
        time.sleep(0.5)


def key_works(api, key):
    return N8nClient(api.url, api_key=key, timeout=api.timeout).key_works()


def read_env(path):
    env = {}
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.strip().partition("=")
                if sep and not k.startswith("#"):
                    env[k] = v
    except FileNotFoundError:
        pass
    return env


def write_env(path, values):
    text = "".join(f"{k}={v}\n" for k, v in values.items())
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def login(api, email, password, budget=90):
    """POST /rest/login; waits out 429s (5 logins per minute per email) within budget seconds."""
    try:
        api.login(email, password, budget, on_wait=lambda wait: log(f"login rate-limited, retrying in {wait} s"))
    except N8nError as exc:
        raw = exc.response.raw
        if exc.status == 401:
            fail(f"login as {email} refused (401). The data folder was set up with other owner "
                 f"credentials; `n8n.sh reset PORT` starts over. {raw[:200]!r}")
        fail(f"login failed: HTTP {exc.status} {raw[:300]!r}")


def own_api_keys(api, label):
    """The session user's API keys whose label contains `label`.

    n8n 2.8 answers GET /rest/api-keys with {"data": [key, ...]} (the caller's keys); 2.41 with
    {"data": {"items": [...], "counts", "totals", "owners"}}, paged (take defaults to 10, max 250)
    and, for the owner, including everybody's keys unless ownership=mine.
    """
    keys, skip = [], 0
    while True:
        query = urllib.parse.urlencode({"ownership": "mine", "label": label, "take": 250, "skip": skip})
        resp = api.request("GET", f"/rest/api-keys?{query}")
        body = resp.data.get("data") if isinstance(resp.data, dict) else None
        if resp.status != 200 or body is None:
            fail(f"GET /rest/api-keys: HTTP {resp.status} {resp.raw[:300]!r}")
        if isinstance(body, list):  # old format: no paging, query ignored
            return body
        items = body.get("items") or []
        keys += items
        if len(items) < 250:
            return keys
        skip += len(items)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="e.g. http://127.0.0.1:5678")
    ap.add_argument("--env-file", required=True)
    ap.add_argument("--pid", type=int, default=0, help="n8n's pid: stop waiting if it dies")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the API")
    ap.add_argument("--label", default=KEY_LABEL, help="API key label")
    args = ap.parse_args()

    api = N8nClient(args.url, timeout=20)
    t0 = time.monotonic()
    settings = wait_ready(api, args.timeout, args.pid)
    log(f"API answers after {time.monotonic() - t0:.1f} s")

    old = read_env(args.env_file)
    # The owner credentials the data folder was set up with win over the defaults.
    email = old.get("N8N_OWNER_EMAIL") or os.environ.get("N8N_OWNER_EMAIL") or DEFAULT_EMAIL
    password = old.get("N8N_OWNER_PASSWORD") or os.environ.get("N8N_OWNER_PASSWORD") or DEFAULT_PASSWORD
    for name, value in (("email", email), ("password", password)):
        if not SAFE_VALUE.match(value):
            fail(f"owner {name} must match {SAFE_VALUE.pattern}")

    def done(key, how):
        write_env(args.env_file, {
            "N8N_URL": api.url,
            "N8N_API_KEY": key,
            "N8N_OWNER_EMAIL": email,
            "N8N_OWNER_PASSWORD": password,
        })
        log(f"{how}; wrote {args.env_file}")

    key = old.get("N8N_API_KEY")
    if key and key_works(api, key):
        return done(key, "stored API key still works (no login)")

    um = settings.get("userManagement") or {}
    if um.get("showSetupOnFirstLoad"):
        log(f"fresh instance: creating owner {email}")
        resp = api.request("POST", "/rest/owner/setup", {
            "email": email, "firstName": "Test", "lastName": "Owner", "password": password})
        if resp.status != 200:
            fail(f"owner setup failed: HTTP {resp.status} {resp.raw[:300]!r}")
        if not api.cookie:  # not expected: setup answers with the session cookie
            login(api, email, password)
    else:
        log(f"logging in as {email}")
        login(api, email, password)

    # The label is unique per user: a second key with it would be a 500.
    for k in own_api_keys(api, args.label):
        if k.get("label") == args.label:
            log(f"deleting the old API key {k.get('id')} labelled {args.label!r}")
            resp = api.request("DELETE", f"/rest/api-keys/{k['id']}")
            if resp.status != 200:
                fail(f"DELETE /rest/api-keys/{k['id']}: HTTP {resp.status} {resp.raw[:300]!r}")

    resp = api.request("GET", "/rest/api-keys/scopes")
    scopes = resp.data.get("data") if isinstance(resp.data, dict) else resp.data
    if resp.status != 200 or not isinstance(scopes, list) or not scopes:
        fail(f"GET /rest/api-keys/scopes: HTTP {resp.status} {resp.raw[:300]!r}")

    resp = api.request("POST", "/rest/api-keys", {
        "label": args.label, "scopes": scopes, "expiresAt": None})
    data = resp.data
    key = ((data or {}).get("data") or {}).get("rawApiKey") if isinstance(data, dict) else None
    if resp.status != 200 or not key:
        fail(f"POST /rest/api-keys: HTTP {resp.status} {resp.raw[:300]!r}")
    if not key_works(api, key):
        fail("the new API key is refused by GET /api/v1/workflows?limit=1")
    done(key, f"created API key {args.label!r} with {len(scopes)} scopes")


if __name__ == "__main__":
    main()
