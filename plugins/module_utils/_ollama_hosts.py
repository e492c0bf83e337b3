# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""LiteLLM's models from an inventory group of Ollama hosts (pure logic, no I/O)."""

from __future__ import annotations

DEFAULT_PORT = 11434
# Host variables an Ollama host may set.
API_BASE = 'llm_gateway_ollama_api_base'
PORT = 'llm_gateway_ollama_port'
MODELS = 'llm_gateway_ollama_models'
WEIGHT = 'llm_gateway_ollama_weight'


class OllamaHostsError(ValueError):
    """The group cannot give every model a backend; the message names the fix."""


def api_base(name, variables):
    """Ollama's base URL on one host: its own llm_gateway_ollama_api_base, else http://ansible_host:port."""
    if variables.get(API_BASE):
        return str(variables[API_BASE]).rstrip('/')
    address = variables.get('ansible_host') or name
    if ':' in str(address):  # an IPv6 address
        address = '[%s]' % address
    return 'http://%s:%s' % (address, variables.get(PORT) or DEFAULT_PORT)


def models_from_hosts(hosts, hostvars, models):
    """llm_gateway_litellm_models: each model in MODELS, served by every host of HOSTS that has it.

    A host's llm_gateway_ollama_models (default: every model) says which it serves;
    llm_gateway_ollama_weight sets its share of the traffic. Hosts keep the
    inventory's order, so the rendering is stable.
    """
    if not hosts:
        raise OllamaHostsError('the group of Ollama hosts is empty: list them in the inventory (ollama_hosts)')
    found = []
    for model in models:
        backends = []
        for name in hosts:
            variables = hostvars.get(name, {})
            served = variables.get(MODELS)
            if served is not None and model not in served:
                continue
            backend = {'model': model, 'api_base': api_base(name, variables)}
            if variables.get(WEIGHT) is not None:
                backend['weight'] = variables[WEIGHT]
            backends.append(backend)
        if not backends:
            raise OllamaHostsError('no Ollama host serves the model %s: add it to the llm_gateway_ollama_models of '
                                   'one of %s, or leave that variable unset (every model)' % (model, ', '.join(hosts)))
        found.append({'name': model, 'backends': backends})
    return found
