# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""n8n_workflow_urls' credentials: the Header Auth credential converted nodes use (O(auth)), the targets of
O(credential_moves), and state C(credential_absent). A failure raises ``Failure``."""

from __future__ import annotations

import json

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import explain
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_credential_record import short_fingerprint
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_node import HEADER_AUTH
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import apply_credential, apply_moves
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import credential_users


class CredentialPlan(object):
    """What this run does to the Header Auth credential that converted nodes use (O(auth)): ``create`` one named
    ``name``, or ``update`` the value of ``credential`` (n8n's ``{id, name}``)."""

    def __init__(self, action, name, credential=None):
        self.action = action
        self.name = name
        self.credential = credential

    @property
    def updating(self):
        """The credential whose value changes, or None."""
        return self.credential if self.action == 'update' else None

    def apply(self, module, runner, plans):
        """Write it (after the backups, before the first workflow); converted nodes of ``plans`` then use it."""
        if self.action == 'update':
            update_credential(module, runner, self.credential)
        else:
            create_credential(module, runner, plans, self.name)


def find_move_targets(runner):
    """Look up (GET) the credential each of O(credential_moves) moves nodes to, before planning; each move
    gets its entry in RV(credential_moves) (``move.report``)."""
    for move in runner.moves.values():
        found = find_credential(runner, move.target, move.cred_type)
        if found is not None:
            move.ref = {'id': found['id'], 'name': found['name']}
        move.report = {'type': move.cred_type, 'name': move.target, 'id': move.ref['id'], 'action': 'unused'}
        runner.result['credential_moves'].append(move.report)


def move_targets_to_create(runner, plans):
    """The moves whose target n8n lacks and some planned node moves to; their report is updated."""
    used = set(change.path[1] for plan in plans for change in plan.changes
               if change.path[0] == 'credentials' and change.path[1] in runner.moves)
    todo = []
    for move in runner.moves.values():
        if move.cred_type not in used:
            continue
        if move.ref['id'] is not None:
            move.report['action'] = 'reused'
            continue
        if not move.data:
            raise Failure('n8n has no %s credential named %r, and credential_moves[].data is not set to create it. '
                          'Nothing was written.' % (move.cred_type, move.target))
        move.report['action'] = 'create'
        todo.append(move)
    return todo


def create_move_targets(runner, plans, moves):
    """Create the credentials nodes move to (after the backups, before the first workflow is written)."""
    for move in moves:
        move.ref = new_credential(runner, move.target, move.cred_type, move.data)
        move.report.update(id=move.ref['id'], action='created')
        runner.result['changed'] = True
        # Recorded as this module's own (restore.yml never carries it into the original n8n).
        runner.credential_state().remember(move.ref['id'], move.target, move.cred_type, True, None, None)
    if moves:
        runner.save_credential_state()
    for plan in plans:
        apply_moves(plan.new_nodes, plan.changes, runner.moves)


def header_auth_data(auth):
    """The data of the Header Auth credential: the header, its value and the hosts it may be sent to."""
    data = {'name': auth['header'], 'value': auth['value']}
    if auth.get('allowed_domains'):
        data.update(allowedHttpRequestDomains='domains', allowedDomains=','.join(auth['allowed_domains']))
    return data


def header_auth_identity(auth):
    """What the credential record fingerprints besides the header: the value, and the allowed hosts when set
    (without them, the same text as before they existed, so that records stay valid)."""
    if not auth.get('allowed_domains'):
        return auth['value']
    return json.dumps([auth['value'], list(auth['allowed_domains'])])


def new_credential(runner, name, cred_type, data):
    """Create a credential in n8n; its ``{id, name}``. Fails the task (nothing written to a workflow yet)
    when n8n refuses or does not say the new id."""
    try:
        created = runner.client.create_credential(name, cred_type, data)
    except ApiError as exc:
        raise Failure('Cannot create the n8n credential %r: %s No workflow was written.'
                      % (name, explain(exc, runner.url)), status=exc.status)
    if not created.get('id'):
        raise Failure('n8n created the credential %r but did not say its id. No workflow was written.' % name)
    return {'id': created['id'], 'name': created.get('name') or name}


def find_credential(runner, name, cred_type=HEADER_AUTH):
    """The credential of this type (Header Auth by default) named ``name``, or None; fails when several carry
    the name."""
    runner.result['changed'] = False     # until something is written: any failure here writes nothing
    try:
        found = runner.client.find_credentials(name, cred_type)
    except ApiError as exc:
        raise Failure('Cannot look up the n8n credential %r: %s Nothing was written.' % (name, explain(exc, runner.url)),
                      status=exc.status)
    if len(found) > 1:
        raise Failure('n8n has %d %s credentials named %r (ids %s); rename or delete all but one. Nothing was written.'
                      % (len(found), cred_type, name, ', '.join(sorted(c['id'] for c in found))))
    return found[0] if found else None


def resolve_credential(module, runner, plans):
    """Look up the credential the converted nodes need (a GET) and decide what to do with it.

    Returns None (nothing to write) or a ``CredentialPlan`` (create it, or update its value). With
    ``auth.value``, the credential is also looked up when no node needs converting, unless the
    record says it holds this value already, so that a changed key reaches n8n.
    """
    auth = module.params['auth']
    if not auth or runner.context is None:      # no rule converts: auth is unused (conversion_context warned)
        return None
    needed = any(plan.conversions for plan in plans if plan.action == 'put')
    value = auth.get('value')
    name = auth['credential_name']
    state = runner.credential_state() if value is not None else None
    if not needed:
        if value is None:
            return None
        records = state.find(name, HEADER_AUTH)
        if records and all(state.matches(r, auth['header'], header_auth_identity(auth)) for r in records):
            return None
    existing = find_credential(runner, name)
    if existing is None:
        if not needed:
            return None
        if value is None:
            raise Failure('n8n has no %s credential named %r, and auth.value is not set to create it. Nothing was '
                          'written.' % (HEADER_AUTH, name))
        runner.result['credential'] = {'id': None, 'name': name, 'type': HEADER_AUTH, 'action': 'create'}
        return CredentialPlan('create', name)
    ref = {'id': existing['id'], 'name': existing['name']}
    runner.credential_ref = ref
    for plan in plans:
        apply_credential(plan.new_nodes, plan.changes, ref, HEADER_AUTH)
    if value is not None and not state.matches(state.get(existing['id']), auth['header'], header_auth_identity(auth)):
        runner.result['credential'] = {'id': existing['id'], 'name': name, 'type': HEADER_AUTH, 'action': 'update'}
        return CredentialPlan('update', name, existing)
    if needed:
        runner.result['credential'] = {'id': existing['id'], 'name': name, 'type': HEADER_AUTH, 'action': 'reused'}
    return None


def credential_diff(runner, credential):
    """The diff of a credential whose value changes: fingerprints, never the value."""
    auth = runner.params['auth']
    state = runner.credential_state()
    record = state.get(credential['id'])
    new = short_fingerprint(state.fingerprint(auth['header'], header_auth_identity(auth)))
    old = 'fingerprint %s' % short_fingerprint(record['fingerprint']) if record else 'not recorded by this module'
    header = 'n8n credential %s (%s)' % (credential['name'], credential['id'])
    return {'before_header': header, 'after_header': header,
            'before': {'value': old}, 'after': {'value': 'fingerprint %s' % new}}


def create_credential(module, runner, plans, name):
    """Create the credential (after the backups, before the first workflow is written)."""
    auth = module.params['auth']
    runner.result['changed'] = runner.wrote_credential     # this credential: not written yet
    ref = new_credential(runner, name, HEADER_AUTH, header_auth_data(auth))
    runner.credential_ref = ref
    runner.result['credential'] = {'id': ref['id'], 'name': ref['name'], 'type': HEADER_AUTH, 'action': 'created'}
    runner.result['changed'] = True
    state = runner.credential_state()
    state.remember(ref['id'], ref['name'], HEADER_AUTH, True, auth['header'], header_auth_identity(auth))
    runner.save_credential_state()
    for plan in plans:
        apply_credential(plan.new_nodes, plan.changes, ref, HEADER_AUTH)


def update_credential(module, runner, credential):
    """Store the new value in the existing credential (after the backups, before the first workflow)."""
    auth = module.params['auth']
    runner.result['changed'] = runner.wrote_credential
    try:
        runner.client.update_credential(credential['id'], header_auth_data(auth))
    except ApiError as exc:
        raise Failure('Cannot update the n8n credential %r (%s): %s No workflow was written.'
                      % (credential['name'], credential['id'], explain(exc, runner.url)), status=exc.status)
    runner.result['credential']['action'] = 'updated'
    runner.result['changed'] = True
    state = runner.credential_state()
    record = state.get(credential['id']) or {}
    state.remember(credential['id'], credential['name'], HEADER_AUTH, record.get('created', False), auth['header'],
                   header_auth_identity(auth))
    runner.save_credential_state()


def credential_absent(module, runner):
    """Delete the credential this module created, when no workflow uses it any more."""
    auth = module.params['auth'] or {}
    name = (auth.get('credential_name') or '').strip()
    if not name:
        raise Failure('state credential_absent needs auth.credential_name')
    state = runner.credential_state()
    existing = find_credential(runner, name)
    credential = {'id': existing['id'] if existing else None, 'name': name, 'type': HEADER_AUTH}
    runner.result['credential'] = credential
    if existing is None:
        credential.update(action='absent', reason='n8n has no %s credential named %r' % (HEADER_AUTH, name))
        stale = [r['id'] for r in state.find(name, HEADER_AUTH)]
        if stale and not module.check_mode:
            for cid in stale:
                state.forget(cid)
            runner.save_credential_state()
        return
    record = state.get(existing['id'])
    if not record or not record.get('created'):
        credential.update(action='kept', reason='this module did not create it (%s has no record of creating '
                                                'credential %s); delete it in n8n if it is no longer wanted'
                                                % (state.path, existing['id']))
        return
    try:
        workflows = list(runner.client.list_workflows())
    except ApiError as exc:
        raise Failure(explain(exc, runner.url), status=exc.status)
    users = credential_users(workflows, existing['id'])
    runner.result['workflows_in_scope'] = len(workflows)
    if users:
        shown = ['%s (%s): %s' % (wf.get('name'), wf.get('id'), ', '.join(str(n) for n in nodes))
                 for wf, nodes in users[:5]]
        credential.update(action='kept', reason='%d workflow(s) still use it - %s%s' % (
            len(users), '; '.join(shown), ' ...' if len(users) > 5 else ''))
        return
    runner.result['changed'] = True
    if module._diff:
        header = 'n8n credential %s (%s)' % (name, existing['id'])
        runner.result['diff'] = [{'before_header': header, 'after_header': header,
                                  'before': {'state': 'present'}, 'after': {'state': 'absent'}}]
    if module.check_mode:
        credential['action'] = 'delete'
        return
    try:
        runner.client.delete_credential(existing['id'])
    except ApiError as exc:
        if exc.status != 404:
            runner.result['changed'] = False
            raise Failure('Cannot delete the n8n credential %r (%s): %s' % (name, existing['id'],
                                                                            explain(exc, runner.url)),
                          status=exc.status)
    credential['action'] = 'deleted'
    state.forget(existing['id'])
    runner.save_credential_state()
