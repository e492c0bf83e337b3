#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ollama_check
short_description: Check that an Ollama server answers and has the models a deployment needs
version_added: 0.1.0
description:
  - Asks an Ollama server for its version and its local models (C(GET /api/version), C(GET /api/tags)) from
    where the task runs, or, with O(container), from a throwaway container on a Docker network (the way
    nginx and LiteLLM in the stack will reach it).
  - Compares the models with O(models); C(llama3) and C(llama3:latest) name the same model.
  - Optionally pulls the missing models through C(POST /api/pull) and reports the pull's progress.
  - Fails with a message that names the cause and the fix when the server cannot be reached, refuses the
    request through its host check (HTTP 403), does not answer as Ollama does, or lacks models. Asked from a
    container, it tells apart a connection refused (on Linux, Ollama listening on loopback only), a
    connection dropped (a firewall), a connection that gets no answer, a host name that does not resolve,
    and the host check (Docker Desktop).
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  action_group:
    description: Use C(group/local_ai.llm_gateway.ollama) in C(module_defaults) to set this module's connection
      options once for every task of a play.
    support: full
    membership:
      - local_ai.llm_gateway.ollama
  check_mode:
    support: full
    details: In check mode nothing is pulled; the result says what would be pulled and C(changed) is true when
      something would be. The O(container) check runs in check mode too (it leaves nothing behind).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  url:
    description:
      - Base URL of the Ollama server as seen from where the task runs, without a path,
        for example V(http://127.0.0.1:11434) or V(http://host.docker.internal:11434).
      - A redirect to another origin (scheme, host or port), or without a C(Location), is not followed and fails
        the check, naming the status and where it points, so that O(headers) never reach an address other than
        this one; set O(url) to the address that answers directly. A redirect within the origin is followed, at
        most 5 in a row (C(301), C(302) and C(303) for reads only; C(307) and C(308) keep the method and body).
    type: str
    required: true
  models:
    description:
      - Models the deployment needs. A name without a tag means C(:latest).
    type: list
    elements: str
    default: []
  fail_on_missing:
    description:
      - Fail when a model in O(models) is missing (after pulling, when O(pull_missing=true)).
      - With V(false) the missing models are only reported in RV(missing).
    type: bool
    default: true
  pull_missing:
    description:
      - Pull the missing models through C(/api/pull). This changes the server, so C(changed) is true when a
        model was (or in check mode would be) pulled.
    type: bool
    default: false
  pull_timeout:
    description:
      - Seconds a pull may stay silent before it is abandoned (each pull streams progress lines).
    type: float
    default: 600
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 10
  retries:
    description:
      - Extra attempts after a connection failure or an HTTP 5xx/429, for a server that is still starting.
    type: int
    default: 0
  delay:
    description:
      - Seconds between attempts.
    type: float
    default: 2
  validate_certs:
    description:
      - Verify the server's TLS certificate when O(url) is C(https).
    type: bool
    default: true
  headers:
    description:
      - Extra request headers, for example an C(Authorization) header for a protected endpoint. Values are
        not logged.
    type: dict
    default: {}
  host_header:
    description:
      - The C(Host) header to send, for example the one nginx sends to Ollama (V(localhost:11434)). Unlike
        O(headers) it is not secret, so a 403 from Ollama's host check names it.
      - Default is the host and port of O(url).
    type: str
  container:
    description:
      - Ask from a throwaway container on a Docker network instead of from where the task runs, with C(curl)
        inside it. The task must run on the Docker host (it uses the C(docker) command).
      - One container serves the module's requests (C(docker exec)) and is removed at the end; headers reach
        C(curl) on its standard input, never on a command line.
    type: dict
    suboptions:
      image:
        description:
          - An image with C(curl), for example the stack's nginx image.
          - One of O(container.image) and O(container.name) is required.
        type: str
      name:
        description:
          - A running container with C(curl) to ask from (C(docker exec)) instead of a throwaway one, for example
            C(llama-nginx) once the stack runs. Nothing is started or removed; O(container.subnet),
            O(container.gateway) and O(container.add_hosts) are those of that container.
        type: str
      reuse:
        description:
          - With O(container.image), a container to ask from instead of a throwaway one when it runs, is attached
            to O(container.network) and has every entry of O(container.add_hosts), for example the stack's
            C(llama-nginx) on a re-run; otherwise a throwaway container of O(container.image) is used.
        type: str
      network:
        description:
          - The Docker network to ask from.
        type: str
        default: bridge
      subnet:
        description:
          - When O(container.network) does not exist yet, create a temporary bridge network with this subnet
            (and O(container.gateway)) to ask from, so that the request comes from the addresses the stack's
            containers will have; it is removed afterwards. A subnet that overlaps another Docker network is
            reported with that network's name.
        type: str
      gateway:
        description:
          - The temporary network's gateway address.
        type: str
      add_hosts:
        description:
          - Extra C(/etc/hosts) entries in the container, as Compose's C(extra_hosts).
        type: dict
        default: {host.docker.internal: host-gateway}
      connect_timeout:
        description:
          - Seconds a connection may take to be accepted; past it the traffic counts as dropped.
        type: float
        default: 5
notes:
  - An Ollama that listens on loopback (its default, and how Docker Desktop reaches it) answers 403 to a
    C(Host) header that is not local. The module names that check when it sees a 403.
seealso:
  - name: Ollama API
    description: The endpoints this module calls.
    link: https://docs.ollama.com/api
'''

EXAMPLES = r'''
- name: Ollama on the Docker host has llama3
  local_ai.llm_gateway.ollama_check:
    url: http://127.0.0.1:11434
    models:
      - llama3

- name: Wait for a starting Ollama, pull what is missing
  local_ai.llm_gateway.ollama_check:
    url: http://127.0.0.1:11434
    models: [llama3, nomic-embed-text]
    retries: 10
    delay: 3
    pull_missing: true

- name: Through nginx on the Docker network (nginx sends the Host header Ollama accepts)
  local_ai.llm_gateway.ollama_check:
    url: http://llama-nginx
    container:
      image: nginx:1.30.0
      network: llama-network
  register: ollama

- name: As nginx will reach it, from the stack's network (created for the check if it does not exist yet)
  local_ai.llm_gateway.ollama_check:
    url: http://host.docker.internal:11434
    host_header: localhost:11434
    models: [llama3]
    container:
      image: nginx:1.30.0
      network: llama-network
      subnet: 172.29.77.0/24
      gateway: 172.29.77.1

- name: Only report what is missing
  local_ai.llm_gateway.ollama_check:
    url: http://host.docker.internal:11434
    models: [llama3]
    fail_on_missing: false
  register: ollama

- name: Show what is missing
  ansible.builtin.debug:
    var: ollama.missing
'''

RETURN = r'''
reachable:
  description: Whether Ollama answered as Ollama.
  returned: always
  type: bool
  sample: true
version:
  description: The server's version from C(/api/version).
  returned: when reachable
  type: str
  sample: 0.6.5
models:
  description: The models the server has (after any pull).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Model name with its tag.
      type: str
      sample: llama3:latest
    size:
      description: Size in bytes.
      type: int
      sample: 4661224676
    digest:
      description: Digest of the model.
      type: str
      sample: 365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1
    modified:
      description: When the model was last modified, as the server reports it.
      type: str
      sample: '2026-11-27T03:10:00.000000000Z'
missing:
  description: Wanted models the server does not have (after any pull), normalized to C(name:tag).
  returned: always
  type: list
  elements: str
  sample: ['nomic-embed-text:latest']
pulled:
  description: Models pulled (or, in check mode, that would be pulled), with a summary of the pull's progress.
  returned: always
  type: list
  elements: dict
  sample: [{name: 'nomic-embed-text:latest', status: success, layers: 2, bytes: 274290656,
            steps: ['pulling manifest', 'pulling 970aa74c0a90', 'verifying sha256 digest', 'writing manifest', 'success']}]
checked_from:
  description: Where the check was made from, C(here) or C(container on <network>).
  returned: always
  type: str
  sample: container on llama-network
latency_ms:
  description: Round-trip time of the C(/api/tags) call that succeeded, in milliseconds.
  returned: when reachable
  type: float
  sample: 1.42
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._container_http import (
    ContainerCurl, ContainerError, probe_network, running_stand_in,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._ollama import (
    OllamaClient, explain, missing_models, summarize_pull,
)


def argument_spec():
    return dict(
        url=dict(type='str', required=True),
        models=dict(type='list', elements='str', default=[]),
        fail_on_missing=dict(type='bool', default=True),
        pull_missing=dict(type='bool', default=False),
        pull_timeout=dict(type='float', default=600),
        timeout=dict(type='float', default=10),
        retries=dict(type='int', default=0),
        delay=dict(type='float', default=2),
        validate_certs=dict(type='bool', default=True),
        headers=dict(type='dict', default={}, no_log=True),
        host_header=dict(type='str'),
        container=dict(
            type='dict', required_one_of=[('image', 'name')], mutually_exclusive=[('image', 'name')],
            options=dict(
                image=dict(type='str'),
                name=dict(type='str'),
                reuse=dict(type='str'),
                network=dict(type='str', default='bridge'),
                subnet=dict(type='str'),
                gateway=dict(type='str'),
                add_hosts=dict(type='dict', default={'host.docker.internal': 'host-gateway'}),
                connect_timeout=dict(type='float', default=5),
            )),
    )


def validate(module):
    """Raise Failure for input the argument spec cannot refuse."""
    url = module.params['url']
    if not url.startswith(('http://', 'https://')) or len(url.split('://', 1)[1].strip('/')) == 0:
        raise Failure('url must be an http:// or https:// URL of the Ollama server, got %r' % url)
    for name in ('timeout', 'delay', 'pull_timeout'):
        if module.params[name] < 0:
            raise Failure('%s must not be negative' % name)
    if module.params['retries'] < 0:
        raise Failure('retries must not be negative')
    if module.params['container'] and module.params['pull_missing']:
        raise Failure('pull_missing pulls from where the task runs; it cannot be combined with container')


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        validate(module)
        module.exit_json(**run(module))
    except Failure as exc:
        exc.fail(module)


def run(module):
    """check() from here, or from a container on O(container.network); its result."""
    container = module.params['container']
    if not container:
        return check(module, send=None, network=None)
    running = container['name'] or (container['reuse'] and running_stand_in(
        module.run_command, container['reuse'], container['network'], container['add_hosts']))
    try:
        if running:
            return check(module, send=ContainerCurl(module.run_command, None, container['network'], running=running,
                                                    connect_timeout=container['connect_timeout']),
                         network=container['network'])
        with probe_network(module.run_command, container['network'], container['subnet'],
                           container['gateway']) as network:
            send = ContainerCurl(module.run_command, container['image'], network,
                                 add_hosts=container['add_hosts'], connect_timeout=container['connect_timeout'])
            try:
                return check(module, send=send, network=container['network'])
            finally:
                # Before the temporary network goes: a network with a container on it cannot be removed.
                send.close()
    except ContainerError as exc:
        raise Failure(str(exc), changed=False, reachable=False, models=[], missing=[], pulled=[],
                      checked_from='container on %s' % container['network'])


def check(module, send, network):
    """Ask Ollama (through ``send``, from ``network`` when not None), pull if asked; the result, or Failure."""
    params = module.params
    url = params['url'].rstrip('/')
    # The Host header is what a proxy will send: messages may name it, the other headers never.
    shown_headers = {'Host': params['host_header']} if params['host_header'] else {}
    client = OllamaClient(module, url, headers=shown_headers, secret_headers=params['headers'],
                          timeout=params['timeout'],
                          retries=params['retries'], delay=params['delay'], send=send)
    result = dict(changed=False, reachable=False, models=[], missing=[], pulled=[],
                  checked_from='container on %s' % network if network else 'here')

    try:
        models, elapsed = client.tags()
        result['version'] = client.version()
    except ApiError as exc:
        raise Failure(explain(exc, url, network=network, headers=shown_headers), status=exc.status, **result)
    result.update(reachable=True, models=models, latency_ms=round(elapsed * 1000.0, 2))
    missing = missing_models(params['models'], models)

    if missing and params['pull_missing']:
        result['changed'] = True
        for name in missing:
            if module.check_mode:
                result['pulled'].append({'name': name, 'status': 'would pull'})
                continue
            try:
                statuses = client.pull(name, timeout=params['pull_timeout'])
            except ApiError as exc:
                result['missing'] = missing
                raise Failure('Pulling %s from %s failed: %s' % (name, url, exc.detail), **result)
            result['pulled'].append(summarize_pull(name, statuses))
        if not module.check_mode:
            try:
                models, dummy = client.tags()
            except ApiError as exc:
                raise Failure(explain(exc, url), **result)
            result['models'] = models
            missing = missing_models(params['models'], models)
        else:
            missing = []

    result['missing'] = missing
    if missing and params['fail_on_missing']:
        raise Failure('Ollama at %s lacks the model(s) %s. Pull them on the Ollama host (ollama pull %s) or set '
                      'pull_missing: true.' % (url, ', '.join(missing), ' / '.join(missing)), **result)
    return result


if __name__ == '__main__':
    main()
