# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""One run of n8n_workflow_urls: its client and result, its backups and journal, the credential record, and the
pool that writes workflows in parallel.

Expected failures raise ``_failure.Failure``; the module's ``main`` alone turns it into a failure, with the result so
far.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_backups import (
    make_run_folder, run_stamp, write_backup,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import (
    N8nClient, explain, is_global_failure,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_credential_record import (
    CREDENTIAL_RECORD, CredentialState,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_journal import write_journal
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import pending_entry, settled_entry


class Runner(object):
    """State of one module run: client, results, backups, and the write pool."""

    def __init__(self, module, client=None):
        self.module = module
        self.params = module.params
        self.url = module.params['url'].rstrip('/')
        self.client = client or N8nClient(module, self.url, module.params['api_key'], timeout=module.params['timeout'],
                                          retries=module.params['retries'], delay=module.params['delay'])
        self.result = dict(changed=False, changed_workflows=[], skipped_items=[], failed_workflows=[],
                           pending_workflows=[], backups=[], workflows_in_scope=0, api_calls={}, conversions=[],
                           credential=None, credential_moves=[], changed_since_read=[])
        self.backup_of = {}
        self.backup_folder = None
        self.stamp = None
        self.abort = threading.Event()
        self.lock = threading.Lock()
        self.context = None
        self.credential_ref = None     # {id, name} of the credential converted nodes use, once known
        self.moves = {}                # credential type -> CredentialMove (O(credential_moves))
        self.replanned = {}            # workflow id -> the plan made again from the copy read before its write
        self.journal = {}              # workflow id -> its journal entry (see note_written)
        self._credential_state = None

    # -- results ---------------------------------------------------------------------------
    def finished(self):
        """The run's result, final: the API calls it made counted in."""
        self.result['api_calls'] = self.client.counts
        return self.result

    def outcome(self):
        """Raise ``Failure`` for a run that wrote some workflows but not all (``changed`` set from what it wrote)."""
        if self.result['failed_workflows']:
            failed = self.result['failed_workflows']
            parts = ['%s (%s): %s' % (f['name'], f['id'], f['error']) for f in failed[:5]]
            msg = '%d workflow(s) could not be written: %s%s.' % (
                len(failed), '; '.join(parts), ' ...' if len(failed) > 5 else '')
            msg += ' Written: %d; not attempted: %d.' % (
                len(self.result['changed_workflows']), len(self.result['pending_workflows']))
            if self.result.get('backup_folder'):
                msg += (' Backups are in %s (state: restored, backup: that folder, puts them back); a re-run only '
                        'writes what still needs it.' % self.result['backup_folder'])
            self.result['changed'] = bool(self.result['changed_workflows']) or self.wrote_credential or any(
                f.get('saved') or f.get('active_before') != f.get('active_after') for f in failed)
            raise Failure(msg)

    @property
    def wrote_credential(self):
        credential = self.result.get('credential') or {}
        return credential.get('action') in ('created', 'updated') or any(
            move['action'] == 'created' for move in self.result['credential_moves'])

    # -- the record of the credentials this module manages ---------------------------------
    def credential_state(self):
        if self._credential_state is None:
            path = self.params['credential_state'] or os.path.join(os.path.abspath(self.params['backup_dir']),
                                                                   CREDENTIAL_RECORD)
            try:
                self._credential_state = CredentialState(path).load()
            except ValueError as exc:
                raise Failure('%s. Nothing was written.' % exc)
        return self._credential_state

    def save_credential_state(self):
        state = self.credential_state()
        try:
            state.save()
        except OSError as exc:
            self.module.warn('Cannot write the credential record %s: %s. n8n was changed; without the record the '
                             'next run cannot tell that the value is unchanged, and writes it again.'
                             % (state.path, exc))

    # -- backups ---------------------------------------------------------------------------
    def open_backups(self):
        """Create this run's backup folder (before the first write); fails the task when it cannot."""
        if not self.params['write_backups'] or self.backup_folder:
            return
        self.stamp = run_stamp()
        try:
            self.backup_folder = make_run_folder(self.params['backup_dir'], self.stamp)
        except OSError as exc:
            raise Failure('Cannot write the backups under %s: %s. Nothing was written to n8n; fix backup_dir (or '
                          'set write_backups: false when another backup exists).' % (self.params['backup_dir'], exc))
        self.result['backup_folder'] = self.backup_folder

    def backup(self, workflow):
        """Save one workflow (as read right before its write) in this run's folder; raises OSError."""
        if not self.params['write_backups']:
            return
        path = write_backup(self.backup_folder, workflow, self.stamp)
        with self.lock:
            self.backup_of[workflow.get('id')] = path
            self.result['backups'].append(path)

    # -- the run's journal, written as each workflow is (see _n8n_journal.write_journal) -------
    def note_writing(self, workflow):
        """Journal ``workflow`` (as read right before its write, backed up) with its outcome unknown, before the
        write; raises OSError (then it is not written)."""
        if not self.backup_folder:
            return
        wid = workflow.get('id')
        with self.lock:
            self.journal[str(wid)] = pending_entry(workflow, self.backup_of.get(wid))
            try:
                self.result['journal'] = write_journal(self.backup_folder, self.journal)
            except OSError:
                del self.journal[str(wid)]      # not written: later journal writes must not say otherwise
                raise

    def note_written(self, before, after, written=None):
        """Journal what the write of ``before`` left, ``after`` as read back (see settled_entry)."""
        if not self.backup_folder:
            return
        with self.lock:
            wid = before.get('id')
            self.journal[str(wid)] = settled_entry(before, after, self.backup_of.get(wid), written)
            try:
                self.result['journal'] = write_journal(self.backup_folder, self.journal)
            except OSError as exc:
                self.module.warn('Cannot write the journal in %s: %s. n8n was changed and the backups are there; '
                                 'the journal may still say that the outcome of the write of %s is unknown, and a '
                                 'restore then needs force: true for it.' % (self.backup_folder, exc, wid))

    def write_backups(self, workflows):
        """Save every workflow about to be written, before the first write."""
        if not self.params['write_backups'] or not workflows:
            return
        self.open_backups()
        try:
            for workflow in workflows:
                self.backup(workflow)
        except OSError as exc:
            raise Failure('Cannot write the backups under %s: %s. Nothing was written to n8n; fix backup_dir (or '
                          'set write_backups: false when another backup exists).' % (self.params['backup_dir'], exc))

    # -- parallel writes -------------------------------------------------------------------
    def run_jobs(self, jobs):
        """Run ``(entry, callable)`` jobs on the pool; each callable returns None or a failure dict."""
        if not jobs:
            return
        workers = max(1, min(self.params['parallel'], len(jobs)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [(entry, pool.submit(self._job, entry, func)) for entry, func in jobs]
            for entry, future in futures:
                outcome = future.result()
                if outcome == 'pending':
                    self.result['pending_workflows'].append({'id': entry['id'], 'name': entry['name']})
                elif outcome == 'not_written':   # changed since it was read, and left alone (changed_since_read)
                    continue
                elif outcome is None:
                    self.result['changed_workflows'].append(entry)
                else:
                    outcome.setdefault('backup', self.backup_of.get(entry['id']))
                    self.result['failed_workflows'].append(outcome)

    def _job(self, entry, func):
        if self.abort.is_set():
            return 'pending'
        try:
            return func()
        except ApiError as exc:  # a call outside the write itself (read back) failed
            if is_global_failure(exc):
                self.abort.set()
            return self.failure(entry, explain(exc, self.url), None, None)
        except Exception as exc:  # pylint: disable=broad-except
            # Never let one workflow's surprise stop the others or hide what happened.
            return self.failure(entry, 'unexpected error: %r' % (exc,), None, None)

    def failure(self, entry, error, saved, active_after):
        return {'id': entry['id'], 'name': entry['name'], 'error': error, 'saved': saved,
                'active_before': entry['active'], 'active_after': active_after}

    def read_back(self, workflow_id):
        try:
            return self.client.get_workflow(workflow_id)
        except ApiError:
            return None


def entry_of(plan):
    """A plan's entry in RV(changed_workflows)."""
    return {'id': plan.id, 'name': plan.name, 'nodes': plan.changed_nodes, 'active': plan.active,
            'action': plan.action}
