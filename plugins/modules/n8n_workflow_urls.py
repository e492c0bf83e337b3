#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: n8n_workflow_urls
short_description: Move n8n workflows from one LLM endpoint URL to another through n8n's public API
version_added: 0.1.0
description:
  - Rewrites the C(url) of HTTP Request nodes (C(n8n-nodes-base.httpRequest) of every typeVersion,
    C(n8n-nodes-base.httpRequestTool) and C(@n8n/n8n-nodes-langchain.toolHttpRequest)) in the workflows of a
    live n8n, following O(rewrites), and changes nothing else.
  - A prefix rule matches a URL that starts with its C(from) (scheme and host compared case-insensitively)
    when the match ends at the end of the URL or right before C(/), C(?) or C(#). So
    C(https://llm.example.com/api/generate) matches itself, C(.../api/generate?x=1) and
    C(.../api/generate/more), but neither C(.../api/generatex) nor C(https://llm.example.com.evil/).
    The matched part is replaced by C(to) and the rest of the URL is kept.
  - A C(url) that is an n8n expression (it starts with C(=)) is rewritten only where the old URL stands as literal
    text at its start (C(=https://llm.example.com/api/generate?m={{ $json.m }})) or at the start of a JavaScript
    string literal inside C({{ }}) (C(={{ 'https://llm.example.com/api/generate?model=' + $json.model }})).
    An expression that builds the address from parts, or where the old URL runs into a dynamic part, is not
    touched and is reported.
  - Every other place that mentions an old URL (request bodies, headers, query parameters, pagination
    options, Code nodes, sticky notes, node notes), HTTP Request nodes whose C(url) is computed at run time,
    and nodes that use an LLM credential (for example C(ollamaApi), C(openAiApi)), whose base URL the public API
    cannot read, are listed in RV(skipped_items) with the reason, so that everything still pointing at the old
    endpoint is visible. None of these is changed.
  - Lists the workflows page by page (C(limit=250)) and decides from the listed bodies alone, without a GET per
    workflow. Only workflows that change are written, with C(PUT /api/v1/workflows/{id}) carrying only C(name),
    C(nodes), C(connections) and C(settings={}) (n8n keeps the stored settings, static data, pinned data,
    tags and description).
  - Optimistic concurrency - right before its C(PUT) (or C(POST .../activate)), each workflow to write is read
    again (C(GET /api/v1/workflows/{id})) and its C(versionId), C(updatedAt), C(activeVersionId) and
    C(isArchived) compared with the listed ones. When one changed (someone edited it meanwhile), the rules are
    applied again to the fresh copy and that is written, so the other edit is kept; when the fresh copy needs no
    rewrite any more, must now be left alone (an unpublished draft, archived, ...), was deleted, or now needs the
    credential the run did not look up, it is not written. Either way it is listed in RV(changed_since_read).
    An edit that lands between that read and the C(PUT) (milliseconds) is still overwritten; the public API has
    no conditional write.
  - Active (published) workflows stay active. n8n republishes an active workflow on PUT; the module then reads
    it back and fails, naming the workflow, when it is no longer active. An active workflow with unpublished
    edits (its draft differs from the published version) is skipped and reported unless O(publish_drafts=true),
    because the PUT would publish someone's half-done work. Archived workflows are skipped and reported.
  - Right before its write, the full JSON of each workflow, as read again then (what the C(PUT) replaces), is
    saved under O(backup_dir); the run's folder is created before the first write. Each file is written to a
    temporary file in the same folder, flushed and fsynced, then renamed into place (mode C(0600)), so a crash
    leaves no half-written backup. The run's journal (RV(journal)) is then written with the workflow's entry
    saying the outcome is unknown, before the write, and again once the outcome is known, so that a run stopped
    or timing out half way leaves a journal of every write it began. O(state=restored) puts workflows back from
    such backups.
  - Fails before any write when n8n cannot be reached, refuses the key, or a rule is unusable. When a write
    fails midway, the result tells which workflows changed, which failed, which were not attempted, and where
    the backups are. A re-run is safe; it only writes what still needs it.
  - >-
    Phase 2 - with O(rewrites[].convert=openai_chat), a node whose URL the rule moves from Ollama's
    C(/api/generate) or C(/api/chat) to an OpenAI-compatible C(.../chat/completions) (LiteLLM) is converted in
    the same pass, so that it still works. Its JSON body is converted where its typeVersion keeps it -
    C(bodyParametersJson) (text or object) or C(bodyParametersUi) for v1 and v2, C(jsonBody) or
    C(bodyParameters) (key-value pairs) for v3 and v4. A body may be JSON text, JSON text with n8n expressions
    inside strings or in place of values (C(={"prompt": "{{ $json.text }}"})), or one C(={{ }}) expression that
    is only C(JSON.stringify) of a plain object literal, or the literal alone (see the examples), whose keys are
    plain and whose values are literals, objects, arrays or expressions. Every value taken over is written back
    exactly as it was, expressions included.
  - >-
    The mapping: C(prompt) becomes the last message, with role C(user), so the model is asked exactly what Ollama
    was asked; C(system) becomes a first message with role C(system); chat C(messages) are kept (C(role),
    C(content)); C(options.temperature), C(options.num_predict), C(options.top_p), C(options.stop) and
    C(options.seed) become C(temperature), C(max_tokens), C(top_p), C(stop) and C(seed); C(format: json) becomes
    C(response_format: {type: json_object}); C(model) goes through O(model_map); C(stream) is kept, and set to
    C(false) when the body had none (n8n needs one JSON answer). Server-side settings are dropped, with a note in
    RV(conversions) - C(keep_alive) and the options C(num_ctx), C(num_batch), C(num_gpu), C(main_gpu),
    C(num_thread), C(use_mmap), C(use_mlock), C(numa), C(low_vram); C(num_predict) below 0 (no limit) sends no
    C(max_tokens).
  - >-
    The reads of the answer are rewritten too - in the nodes directly after the converted node (its main
    outputs), C($json.response) (also C($json["response"]), C($input.item.json.response), C(items[0].json.response))
    becomes C($json.choices[0].message.content), and for a chat node C($json.message.content) likewise; anywhere
    in the workflow, the same reads through the node's name (C($node["Ask Ollama"].json.response), and likewise
    through C($) or C($items) called with the name, with C(.item), C(.first), C(.last) or C(.all)). C(done_reason),
    C(prompt_eval_count) and C(eval_count) become C(choices[0].finish_reason), C(usage.prompt_tokens) and
    C(usage.completion_tokens). JavaScript is only looked at inside C({{ }}) and in Code nodes' code.
  - >-
    A node is converted completely or not at all, and a workflow is written once. A node that cannot be converted
    exactly is left untouched, URL included, as are the nodes that read its answer, and is listed in
    RV(skipped_items) (kind V(not_converted)) with the reason; when its rule has O(rewrites[].fallback), only its
    URL moves, to the fallback (see there), and the entry tells where in C(moved_to). Among the reasons - a body with images; a raw,
    form or binary body; no body; a method other than POST; JavaScript beyond a plain object literal (dynamic
    body); a body that is not a JSON object; fields without an OpenAI counterpart (C(template), C(raw),
    C(context), C(suffix), C(tools), C(think)); other options (C(top_k), C(repeat_penalty), ...); C(format) other
    than C(json); C(stream: true) (n8n got Ollama's lines, LiteLLM would send events); an expression where a
    C(system) text, the C(options) or the C(messages) must be; key-value pairs that mix text and expressions;
    a model missing from a non-empty O(model_map); the node's answer read as text, file or full response; a tool
    node (read by an AI agent); a read of the answer that cannot be rewritten (a field with no counterpart such as
    C($json.done) or C($json.context), the whole answer, Python code, a reader that also gets items from
    elsewhere, a reader left untouched itself).
  - >-
    With O(auth), the converted nodes authenticate with an n8n Header Auth credential that the module creates
    through the API (or reuses, by name and type), so that no key is ever written into a workflow, a result, a
    diff or a message. v3 and v4 nodes get C(authentication=genericCredentialType) and
    C(genericAuthType=httpHeaderAuth), v2 likewise, v1 C(authentication=headerAuth); the authentication a node had
    before is replaced (and noted in RV(conversions)).
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - local_ai.llm_gateway.n8n
  - ansible.builtin.action_common_attributes
attributes:
  action_group:
    description: Use C(group/local_ai.llm_gateway.n8n) in C(module_defaults) to set this module's connection
      options once for every task of a play.
    support: full
    membership:
      - local_ai.llm_gateway.n8n
  check_mode:
    support: full
    details: In check mode only GET calls are made and no backup or credential record is written; the result says
      what would change.
  diff_mode:
    support: full
    details: For each workflow that changes (or would), the before and after value of each changed parameter,
      per node; for a credential whose value changes, the fingerprints before and after (never the value).
      Secrets are masked (C(********)) - a value whose name looks secret (C(Authorization),
      C(X-API-Key), C(api_key), C(token), C(password), C(cookie) and the like, also as the C(value) beside such a
      C(name) in header, query and body parameters), secret query parameters and URL passwords in any text, and
      C(Bearer) tokens; an authentication scheme is kept (C(Bearer ********)), and a secret that changed is
      shown as C(******** (secret changed)). The same masking applies to RV(skipped_items).
  platform:
    platforms: posix
options:
  state:
    description:
      - V(present) rewrites the URLs.
      - V(restored) puts the workflows in O(backup) back as they were (see O(backup)).
      - V(credential_absent) deletes the credential O(auth.credential_name) when the record (see O(credential_state))
        says this module created it and no workflow uses it any more, in its draft or its published version (all
        workflows are listed and their nodes' C(credentials) compared by id). Otherwise the credential is kept and
        RV(credential) says why. Run it after a rollback (O(state=restored)). Only O(auth.credential_name) is used.
    type: str
    choices: [present, restored, credential_absent]
    default: present
  rewrites:
    description:
      - The rules, tried in order; the first that matches a URL rewrites it. Required with O(state=present),
        and must hold at least one rule.
      - A rule whose C(to) would be matched by a rule again is refused, so a second run changes nothing. So is
        a O(rewrites[].fallback) matched by a rule that does not convert or that has a fallback itself; a
        converting rule without fallback may match it (the next run tries to convert the node again, is refused
        again and leaves it).
    type: list
    elements: dict
    suboptions:
      from:
        description:
          - The old URL prefix, an absolute C(http://) or C(https://) URL, for example
            V(https://llm.example.com/api/generate) or just V(https://llm.example.com).
          - With O(rewrites[].regex=true), a Python regular expression that must match at the start of the URL.
        type: str
        required: true
      to:
        description:
          - What replaces the matched part, an absolute C(http://) or C(https://) URL.
          - With O(rewrites[].regex=true) it may refer to groups of the pattern (C(\1), C(\g<name>)).
        type: str
        required: true
      regex:
        description:
          - Treat O(rewrites[].from) as a regular expression instead of a URL prefix.
        type: bool
        default: false
      convert:
        description:
          - Conversion of the request of nodes whose URL this rule rewrote, done in the same pass.
          - V(none) changes only the URL.
          - V(openai_chat) converts Ollama requests to OpenAI chat completions (see the description above). C(from)
            must then be an Ollama C(/api/generate) or C(/api/chat) URL and C(to) a C(.../chat/completions) URL.
        type: str
        choices: [none, openai_chat]
        default: none
      fallback:
        description:
          - Only with O(rewrites[].convert) other than V(none). Where a node goes when its conversion is refused,
            an absolute C(http://) or C(https://) URL that replaces the matched part instead of C(to), for example
            V(http://llama-nginx/api/generate) for the public V(https://llm.example.com/api/generate) when the
            public URL is behind a key after the move.
          - Only the URL changes; the request body, the authentication and the nodes that read the answer are left
            as they are. The node is still listed in RV(skipped_items) (kind V(not_converted)), with C(moved_to).
            The move is a change like any other (backed up, written, restorable, in the diff and
            RV(changed_workflows)).
          - With O(rewrites[].regex=true) it may refer to groups of the pattern, like C(to).
          - Not set (the default), a node whose conversion is refused is left untouched, URL included.
        type: str
  model_map:
    description:
      - With O(rewrites[].convert=openai_chat), the model name to send to LiteLLM for each Ollama model name,
        for example C(llama3) to C(llama3-chat). V(llama3) and V(llama3:latest) are the same model.
      - When empty, every node keeps its model name as it is.
      - When not empty, a node whose model is not in the map, or is computed at run time, is not converted
        (and is listed in RV(skipped_items)), because LiteLLM would answer with an unknown model error.
    type: dict
    default: {}
  auth:
    description:
      - With O(rewrites[].convert=openai_chat), the n8n credential of type C(httpHeaderAuth) that converted nodes
        authenticate with (the LiteLLM key). Without it, the nodes' authentication is left as it is.
      - The credential is looked up by name and type, and created only when n8n has none (a second run makes no
        C(POST)); in check mode its creation is reported, not done. It is created after the backups, before the
        first workflow is written, and only when a node is converted. A creation whose answer is lost (a timeout,
        a reset, a 5xx) is looked up again before it is retried, so the credential is never created twice.
      - With O(auth.value), a changed value reaches n8n. The public API never returns a credential's data, so the
        module keeps a record (see O(credential_state)) of a fingerprint of the header and value it last stored in
        each credential - an HMAC-SHA256 keyed with a random salt, never the value. An existing credential whose
        fingerprint differs, or that the record does not know (made by hand, or by an older version), gets the
        value with one C(PATCH) (V(updated) as C(action) of RV(credential); V(update) in check mode, nothing written). The
        same value again makes no call. This is checked on every run with O(auth.value), also when no node needs
        converting. The diff shows the fingerprints before and after, never the value.
      - A value changed by hand in n8n is not noticed (the record still matches); delete the record's entry, or
        the record, to have the value stored again. Without O(auth.value), an existing credential is never
        changed.
    type: dict
    suboptions:
      credential_name:
        description:
          - The credential's name in n8n, for example V(LiteLLM). Several C(httpHeaderAuth) credentials with this
            name fail the task before any write.
        type: str
        required: true
      header:
        description:
          - The header the credential sends.
        type: str
        default: Authorization
      value:
        description:
          - The header's value, for example V(Bearer sk-...). Needed when n8n has no credential of that name yet;
            stored again when it changed (see above).
        type: str
      allowed_domains:
        description:
          - The only hosts n8n may send the credential to from an HTTP Request node (n8n's C(Allowed HTTP Request
            Domains) of the credential, C(allowedHttpRequestDomains=domains) with C(allowedDomains); C(*.example.com)
            matches its subdomains), for example the host of the converted nodes' URL, so that a workflow cannot
            send the key elsewhere. Empty, the credential may be used with any host. Part of what the record
            fingerprints, so a changed list is stored with O(auth.value) as above.
        type: list
        elements: str
        default: []
  credential_moves:
    description:
      - Nodes that reach an LLM server through a credential (LangChain's Ollama Chat Model, Ollama Model and
        Embeddings Ollama use an C(ollamaApi) credential whose C(baseUrl) is the address) move to another
        credential of the same type, for example one whose base URL is the internal route. The old credentials
        are kept; restoring a backup puts the old references back.
      - n8n's public API never returns a credential's data, so the module cannot see which credentials hold the
        old base URL - name them in O(credential_moves[].from). A node on a credential not named there is still
        reported in RV(skipped_items) (kind V(credential)).
      - The credential O(credential_moves[].to) is looked up by name and type and created with
        O(credential_moves[].data) only when n8n has none and a node moves to it (after the backups, before the
        first workflow is written; reported as V(create) in check mode). An existing one is used as it is (its
        data is never changed). See RV(credential_moves).
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: The credential type, for example V(ollamaApi).
        type: str
        required: true
      from:
        description: The names (or ids) of the credentials whose nodes move.
        type: list
        elements: str
        required: true
      to:
        description: The name of the credential the nodes use instead.
        type: str
        required: true
      data:
        description:
          - The data to create O(credential_moves[].to) with, for C(ollamaApi) its C(baseUrl), such as
            V(http://llama-nginx) (and C(apiKey) when the route needs one). Needed only when n8n has no such
            credential yet. Never logged.
        type: dict
  workflow_ids:
    description:
      - Only these workflows. An id that n8n does not have fails the task before any write.
    type: list
    elements: str
    default: []
  names:
    description:
      - Only workflows with one of these exact names (case-sensitive).
    type: list
    elements: str
    default: []
  tags:
    description:
      - Only workflows that carry all of these tags (tag names, case-sensitive), as n8n's own tag filter does.
    type: list
    elements: str
    default: []
  active_only:
    description:
      - Only active (published) workflows.
    type: bool
    default: false
  publish_drafts:
    description:
      - Also rewrite active workflows that have unpublished edits. n8n publishes the edited draft together with the
        new URL; when only the published version holds the old URL, the draft is published.
    type: bool
    default: false
  parallel:
    description:
      - How many workflows are written at the same time (1 to 32).
    type: int
    default: 4
  write_backups:
    description:
      - Save the full JSON of every workflow before it is written. Only switch this off when another backup exists.
    type: bool
    default: true
  backup_dir:
    description:
      - Folder on the host where the task runs for the backups. Each run that writes gets a sub-folder named after
        its UTC time (returned as RV(backup_folder)) with one file per workflow, C(<id>-<time>.json), mode C(0600),
        holding the workflow exactly as n8n returned it when it was read right before its write.
    type: path
    default: ~/.local/share/llm_gateway/n8n-backups
  backup:
    description:
      - With O(state=restored), required. A backup file, or a folder of them (one run's RV(backup_folder)).
      - Each workflow gets back its name, nodes and connections, and its state of publication. A backup of an
        active workflow with unpublished edits gets back both its draft and the published version (it is
        deactivated for a moment in between). O(workflow_ids) narrows what is restored.
      - Before a workflow is restored, its current JSON is saved as a new backup (see O(write_backups)), and the
        restore's own journal is kept like a run's (see RV(journal)), so a restore can be undone the same way.
      - Each workflow is read once, then once more right before its first write; when it changed in between (an
        edit in n8n while the restore ran), it is not written but listed in RV(skipped_items) (kind
        V(changed_since_read)), also with O(force=true), because its backup holds the copy read first.
      - The run's journal (C(journal.json) in the same folder, see RV(journal)) says what the run left, a
        fingerprint of each written workflow's name, nodes, connections and activation. A workflow that no longer
        matches it was edited since; it is not restored but listed in RV(skipped_items) (kind V(changed_since_run),
        with its backup), unless O(force=true). A workflow that was deleted since is listed likewise (kind
        V(deleted)); neither fails the task.
      - A backup that the journal has no entry for (no C(journal.json) in its folder - a backup made by hand or by
        an older version of this module - or a journal that lacks the workflow) is not restored either, unless
        O(force=true), because whether it was edited since cannot be told (kind V(no_journal_entry)). Nor is one
        whose entry says the write's outcome is unknown (kind V(write_outcome_unknown); the run's write failed or
        timed out and the workflow could not be read back, or the run was stopped). A workflow that already
        matches its backup needs nothing and is never listed. An entry the run settled as V(not written) is
        checked like a written one, against what n8n held after the failed write.
      - Content, not the versionId, decides, because n8n keeps the versionId when only the name changes, and
        gives a new one to a restore that puts back exactly what a run left. So runs undone newest first (phase 2,
        then phase 1) each find their workflows as they left them. Settings and static data are not compared.
      - In a folder, a leftover temporary file (C(*.tmp), from a write that was interrupted) and a C(*.json) file that
        is not a usable backup (cut short, not JSON, not a workflow) are ignored with a warning; the other backups
        are restored. A single file given as O(backup) that is not a backup fails the task.
      - Converted workflows come back exactly as well (URL, body, authentication, and the nodes that read the
        answer). A credential the run created stays in n8n; O(state=credential_absent) deletes it once no workflow
        uses it.
    type: path
  credential_state:
    description:
      - The record of the credentials this module manages (JSON, mode C(0600), replaced atomically) - per
        credential its id, name, type, whether this module created it, and the fingerprint of the value it last
        stored. It holds no key.
      - Defaults to C(credentials.json) in O(backup_dir). Give the same file to every run that manages the
        credential, O(state=credential_absent) included.
    type: path
  force:
    description:
      - With O(state=restored), restore also the workflows that the journal of the run that made the backups
        shows edited since (V(changed_since_run)), those it has no entry for (V(no_journal_entry), which includes
        every backup without a journal) and those whose write had an unknown outcome (V(write_outcome_unknown));
        see O(backup). The journal is then not read, so a damaged one does not stop the restore.
      - A workflow that changed while the restore ran (V(changed_since_read)) is not restored even so.
    type: bool
    default: false
  restore_static_data:
    description:
      - With O(state=restored), also put back the workflow's static data. Off by default. This module never changes
        static data, and triggers keep their state there (a polling trigger's last seen item, for example). Put back,
        a trigger could process items again.
    type: bool
    default: false
notes:
  - 'Scopes of the API key (n8n enforces them from 2.x on): V(workflow:list) and V(workflow:read) always,
    V(workflow:update) to write, V(workflow:activate) to write active workflows (n8n republishes them) and to
    restore active ones, V(workflow:deactivate) to restore inactive ones. Tags are read from the listing; no
    tag scope is needed. With O(auth), also V(credential:list), V(credential:create) when the credential
    does not exist yet and V(credential:update) when its value changes. O(state=credential_absent) needs
    V(credential:list), V(workflow:list) and V(credential:delete).'
  - Calls made, by method - C(GET /api/v1/workflows) once per 250 workflows; per written workflow one C(GET) right
    before the write (optimistic concurrency) and one C(PUT) (or, when only the published version needs it, one
    C(POST .../activate)), plus one C(GET) to confirm an active workflow is still published - at most
    ceil(N/250) + 2 per changed workflow (+ 1 per active one). A workflow that changed since the listing costs
    that one C(GET) and no write when it is left alone. O(state=restored) reads each backed-up workflow once, and
    each one it restores once more right before its first write. With O(auth) and a
    node to convert, C(GET /api/v1/credentials) once per 250 credentials, and one C(POST) when the credential is
    created (and the listing again when the answer to that C(POST) is lost); with O(auth.value), the listing also
    when the record does not show the value as stored, and one C(PATCH /api/v1/credentials/{id}) when it must be
    stored. C(POST .../activate), C(POST .../deactivate) and that C(PATCH) (it carries the whole data) set a
    state, so they are retried like a C(PUT). O(state=credential_absent) - the credentials' listing, the
    workflows' listing, and one C(DELETE).
  - n8n has no optimistic locking on the public API (no C(If-Match)). The module reads each workflow again right
    before writing it (see above), so an edit made in the n8n editor after the listing is kept or the workflow
    is left alone; only an edit in the moment between that read and the write is overwritten. The backup holds
    the state that was read then.
  - Credentials are reported, not changed. Change an Ollama or OpenAI credential's base URL in n8n.
  - The credential is created in the personal project of the API key's owner. Workflows in other projects (n8n
    Enterprise) need it shared with them in n8n.
  - 'O(rewrites[].convert=openai_chat) does not follow an answer further than the nodes directly after the
    converted node (and reads by name): a node that hands the whole answer on unchanged (a Code node returning
    its input, a No Op) lets nodes behind it see the new shape. Where the whole answer leaves the workflow
    (a Respond to Webhook node sending the incoming item, or a webhook answering with the last node), the
    conversion is done and a note in RV(conversions) says that callers now get an OpenAI chat completion.'
  - Uses C(fetch_url), so no Python library is needed on the host the task runs on.
seealso:
  - name: n8n public API
    description: The REST API this module uses.
    link: https://docs.n8n.io/api/
'''

EXAMPLES = r'''
- name: Phase 1 - n8n calls Ollama through the internal nginx route instead of the public URL
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    rewrites:
      - from: https://llm.example.com/api/generate
        to: http://llama-nginx/api/generate
  register: moved

- name: Show what still points at the old endpoint
  ansible.builtin.debug:
    var: moved.skipped_items

- name: Preview every path under the old host, with a diff (no writes, only GET calls)
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    rewrites:
      - from: https://llm.example.com
        to: http://llama-nginx
  check_mode: true
  diff: true

- name: Only the workflows tagged llm, also those with unpublished edits, backups in a chosen folder
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    rewrites:
      - from: https://llm.example.com/api/generate
        to: http://llama-nginx/api/generate
      - from: https://llm.example.com/api/chat
        to: http://llama-nginx/api/chat
    tags: [llm]
    publish_drafts: true
    backup_dir: /var/backups/n8n-workflows
  register: moved

- name: Any llm-<env> host to its nginx route, with a regular expression
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    rewrites:
      - from: 'https?://llm-(dev|prod)\.example\.com/api/'
        to: 'http://llama-nginx-\1/api/'
        regex: true

- name: Phase 2 - workflows call LiteLLM in the OpenAI format, with the key in an n8n credential
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    rewrites:
      - from: http://llama-nginx/api/generate
        to: http://llama-litellm:4000/v1/chat/completions
        convert: openai_chat
      - from: http://llama-nginx/api/chat
        to: http://llama-litellm:4000/v1/chat/completions
        convert: openai_chat
      - from: https://llm.example.com/api/generate
        to: http://llama-litellm:4000/v1/chat/completions
        convert: openai_chat
    # A node's body, for example
    #   ={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}
    # becomes
    #   ={{ JSON.stringify({model: "llama3", messages: [{role: "user", content: $json.body.prompt}], stream: false}) }}
    # and a Set node after it that reads {{ $json.response }} then reads {{ $json.choices[0].message.content }}.
    model_map:
      llama3: llama3
      qwen2.5:7b: qwen
    auth:
      credential_name: LiteLLM
      value: "Bearer {{ litellm_master_key }}"
  register: phase2

- name: Show what was converted, with notes, and what was left on Ollama (and why)
  ansible.builtin.debug:
    msg:
      converted: "{{ phase2.conversions }}"
      left_alone: "{{ phase2.skipped_items | selectattr('kind', 'equalto', 'not_converted') | list }}"

- name: Put the workflows of that run back
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    state: restored
    backup: "{{ moved.backup_folder }}"

# After a new LiteLLM key: the same task as phase 2 with the new value stores it in the
# credential (one PATCH, credential.action: updated); run again, it makes no write.

- name: Then delete the LiteLLM credential phase 2 created, now that no workflow uses it
  local_ai.llm_gateway.n8n_workflow_urls:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    state: credential_absent
    auth:
      credential_name: LiteLLM
  register: removed

- name: Say why it was kept, if it was
  ansible.builtin.debug:
    msg: "{{ removed.credential.reason }}"
  when: removed.credential.action == 'kept'
'''

RETURN = r'''
changed_workflows:
  description:
    - Workflows written (or, in check mode, that would be), with the nodes that changed.
    - With O(state=restored), the workflows put back.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
      sample: kI7qCjF40krWxpzW
    name:
      description: Workflow name.
      type: str
      sample: Summarize tickets
    nodes:
      description: Names of the nodes that changed.
      type: list
      elements: str
      sample: [Call LLM]
    active:
      description: Whether the workflow was active (published) before.
      type: bool
      sample: true
    action:
      description:
        - V(put) (saved, and republished when active), V(publish) (draft published), or with O(state=restored)
          the calls made, for example V(deactivate,put,activate).
      type: str
      sample: put
  sample: [{id: kI7qCjF40krWxpzW, name: Summarize tickets, nodes: [Call LLM], active: true, action: put}]
skipped_items:
  description:
    - Places that mention an old URL but were not rewritten, and workflows left alone, each with the reason.
    - Not named C(skipped), because Ansible reads a non-empty C(skipped) in a result as "this task was skipped".
    - C(kind) is one of V(archived), V(unpublished_draft), V(unsupported_node_keys) (the workflow has node keys
      n8n's public API rejects on PUT), V(expression) (an expression that cannot be rewritten safely),
      V(not_rewritable) (the old URL stands inside the URL, not at its start), V(dynamic_url) (the URL is computed
      at run time), V(mention) (anywhere else, such as a request body, a header, a Code node or a sticky note),
      V(credential) (a node uses an LLM credential whose base URL the public API cannot read), V(not_converted)
      (O(rewrites[].convert=openai_chat) could not convert the node exactly; it is left untouched, URL included,
      or with O(rewrites[].fallback) only its URL is moved to the fallback, see C(moved_to)).
    - With O(state=restored), also V(deleted) (n8n has the workflow no more), V(changed_since_run) (edited after
      the run that made the backup), V(no_journal_entry) (that run's journal has no entry for it),
      V(write_outcome_unknown) (that run did not learn whether its write reached n8n) - these three are restored
      with O(force=true) - and V(changed_since_read) (edited while the restore ran), each with C(backup), the
      backup file.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
    name:
      description: Workflow name.
      type: str
    node:
      description: Node name, or null when the whole workflow is meant.
      type: str
    parameter:
      description: Where in the node, for example C(parameters.jsonBody), or null.
      type: str
    kind:
      description: The kind of reason (see above).
      type: str
    reason:
      description: Why it was not rewritten and what to do.
      type: str
    moved_to:
      description:
        - Only with kind V(not_converted) when the rule has O(rewrites[].fallback) - the URL the node was moved to
          instead of being converted (secrets masked). Absent otherwise.
      type: str
      sample: http://llama-nginx/api/generate
  sample: [{id: kI7qCjF40krWxpzW, name: Summarize tickets, node: Build prompt, parameter: parameters.jsCode,
            kind: mention, reason: 'https://llm.example.com/api/generate is mentioned in the code of a Code node;
            only the url of HTTP Request nodes is rewritten'}]
failed_workflows:
  description: Workflows whose write failed, with the error and the state n8n reports afterwards.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
    name:
      description: Workflow name.
      type: str
    error:
      description: What failed.
      type: str
    saved:
      description: Whether n8n holds the new content anyway (null when it could not be read back).
      type: bool
    active_before:
      description: Whether the workflow was active before.
      type: bool
    active_after:
      description: Whether it is active now (null when it could not be read back).
      type: bool
    backup:
      description: Its backup file, if one was written.
      type: str
  sample: [{id: kI7qCjF40krWxpzW, name: Cron LLM, error: 'saved, but n8n did not republish it: HTTP 400 There was a
            problem activating the workflow', saved: true, active_before: true, active_after: false,
            backup: /root/.local/share/llm_gateway/n8n-backups/20261127T031500.000000Z/kI7qCjF40krWxpzW-20261127T031500.000000Z.json}]
pending_workflows:
  description: Workflows that needed a write but were not attempted, because an earlier failure stopped the run
    (n8n unreachable, key refused).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
    name:
      description: Workflow name.
      type: str
  sample: []
changed_since_read:
  description:
    - Workflows that changed in n8n between the listing and the read right before their write, with what was
      done - C(outcome) V(replanned) (the rules applied again to the fresh copy, which was written; see
      RV(changed_workflows) and RV(failed_workflows)) or V(skipped) (not written, C(reason) says why and what to
      do).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
    name:
      description: Workflow name, as listed.
      type: str
    version_listed:
      description: The C(versionId) the plan was made from.
      type: str
    version_read:
      description: The C(versionId) read right before the write (null when the workflow was deleted).
      type: str
    updated_listed:
      description: The C(updatedAt) the plan was made from.
      type: str
    updated_read:
      description: The C(updatedAt) read right before the write.
      type: str
    outcome:
      description: V(replanned) or V(skipped).
      type: str
    reason:
      description: What happened, and what to do.
      type: str
  sample: [{id: kI7qCjF40krWxpzW, name: Summarize tickets, version_listed: 6b1d0c2e, version_read: 9f3a7e11,
            updated_listed: '2026-11-27T03:10:00.000Z', updated_read: '2026-11-27T03:14:59.000Z', outcome: skipped,
            reason: 'it no longer needs a rewrite (someone else changed it); nothing was written'}]
journal:
  description:
    - The journal of this run, C(journal.json) in RV(backup_folder) (mode C(0600), replaced atomically) - per
      workflow this run began to write (or, with O(state=restored), to restore) its C(id), C(name), C(outcome),
      C(version_before) (the versionId n8n had before the write) and C(backup), and once the outcome is known
      C(version_after) and C(content_after) (SHA-256 of the name, nodes, connections and activation n8n held
      after the write).
    - The entry is written right before the workflow's write with C(outcome) V(unknown), and written again when
      the run has read the workflow back - V(written), or V(not written) when n8n answered with an error and
      holds what it held before. It stays V(unknown) when the write failed or timed out and reading it back failed
      too, or when the run was stopped. Entries of journals written before C(outcome) was recorded have none and
      count as V(written).
    - O(state=restored) reads it (see O(backup)).
  returned: when backups are on and a workflow was about to be written

  type: str
  sample: /root/.local/share/llm_gateway/n8n-backups/20261127T031500.000000Z/journal.json
backups:
  description: The backup files written by this run, each the workflow as read right before its write.
  returned: always
  type: list
  elements: str
  sample: [/root/.local/share/llm_gateway/n8n-backups/20261127T031500.000000Z/kI7qCjF40krWxpzW-20261127T031500.000000Z.json]
backup_folder:
  description: The folder of this run's backups; pass it as O(backup) to undo the run.
  returned: when backups were written
  type: str
  sample: /root/.local/share/llm_gateway/n8n-backups/20261127T031500.000000Z
workflows_in_scope:
  description: How many workflows matched O(workflow_ids), O(names), O(tags) and O(active_only) (or, with
    O(state=restored), how many backups were considered).
  returned: always
  type: int
  sample: 42
api_calls:
  description: The HTTP calls made to n8n, by method (retries included).
  returned: always
  type: dict
  sample: {GET: 2, PUT: 3}
conversions:
  description:
    - With O(rewrites[].convert=openai_chat), the nodes converted (or, in check mode, that would be) in the
      workflows of RV(changed_workflows), with the reads of their answers that were rewritten.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Workflow id.
      type: str
    name:
      description: Workflow name.
      type: str
    node:
      description: The converted node.
      type: str
    endpoint:
      description: The Ollama endpoint it called, V(generate) or V(chat).
      type: str
    model:
      description: The model before and after O(model_map) (an expression's text when computed at run time).
      type: dict
    notes:
      description: What changed in meaning or was dropped, for example a dropped C(options.num_ctx).
      type: list
      elements: str
    downstream:
      description: Each read of the answer that was rewritten - C(node), C(parameter), C(before), C(after).
      type: list
      elements: dict
  sample: [{id: kI7qCjF40krWxpzW, name: LLM webhook, node: Ask Ollama, endpoint: generate,
            model: {before: llama3, after: llama3}, notes: [],
            downstream: [{node: Format, parameter: 'parameters.assignments.assignments[0].value',
                          before: $json.response, after: '$json.choices[0].message.content'}]}]
credential_moves:
  description:
    - Per O(credential_moves) entry, the credential the nodes move to - C(type), C(name), C(id) and C(action)
      (V(reused), V(created), or V(create) with C(id) null in check mode; V(unused) when no node moved to it).
  returned: always
  type: list
  elements: dict
  sample: [{type: ollamaApi, name: Ollama (llama-nginx), id: 9aB3cD4eF5gH6iJ7, action: created}]
credential:
  description:
    - With O(auth), the credential attached to the converted nodes - C(id), C(name), C(type) and C(action)
      (V(reused), V(created), V(updated) when its value was stored, or in check mode V(create) with C(id) null,
      V(update)). Null when no node needed it and its value did not change.
    - With O(state=credential_absent), C(action) is V(deleted) (V(delete) in check mode), V(kept) or V(absent),
      with C(reason) for the last two.
    - Its value is never returned.
  returned: always
  type: dict
  sample: {id: 4fGhJ2kLm9NpQr7s, name: LiteLLM, type: httpHeaderAuth, action: created}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import (
    connection_argument_spec, validate_connection,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_credentials import credential_absent
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_present import present
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_restore import restore
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_run import Runner

STATES = {'present': present, 'restored': restore, 'credential_absent': credential_absent}
MAX_PARALLEL = 32


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        state=dict(type='str', choices=['present', 'restored', 'credential_absent'], default='present'),
        rewrites=dict(type='list', elements='dict', options={
            'from': dict(type='str', required=True),
            'to': dict(type='str', required=True),
            'regex': dict(type='bool', default=False),
            'convert': dict(type='str', choices=['none', 'openai_chat'], default='none'),
            'fallback': dict(type='str'),
        }),
        model_map=dict(type='dict', default={}),
        auth=dict(type='dict', options={
            'credential_name': dict(type='str', required=True),
            'header': dict(type='str', default='Authorization'),
            'value': dict(type='str', no_log=True),
            'allowed_domains': dict(type='list', elements='str', default=[]),
        }),
        credential_moves=dict(type='list', elements='dict', default=[], options={
            'type': dict(type='str', required=True),
            'from': dict(type='list', elements='str', required=True),
            'to': dict(type='str', required=True),
            'data': dict(type='dict', no_log=True),
        }),
        workflow_ids=dict(type='list', elements='str', default=[]),
        names=dict(type='list', elements='str', default=[]),
        tags=dict(type='list', elements='str', default=[]),
        active_only=dict(type='bool', default=False),
        publish_drafts=dict(type='bool', default=False),
        parallel=dict(type='int', default=4),
        write_backups=dict(type='bool', default=True),
        backup_dir=dict(type='path', default='~/.local/share/llm_gateway/n8n-backups'),
        backup=dict(type='path'),
        credential_state=dict(type='path'),
        restore_static_data=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[('state', 'restored', ['backup']), ('state', 'credential_absent', ['auth'])])
    problem = validate_connection(module.params)
    if problem:
        module.fail_json(msg=problem)
    if not 1 <= module.params['parallel'] <= MAX_PARALLEL:
        module.fail_json(msg='parallel must be within 1..%d' % MAX_PARALLEL)
    if module.params['state'] == 'present' and not module.params['rewrites']:
        module.fail_json(msg='rewrites must hold at least one {from, to} rule')
    runner = Runner(module)
    try:
        STATES[module.params['state']](module, runner)
        runner.outcome()
    except Failure as exc:
        exc.fail(module, **runner.finished())
    module.exit_json(**runner.finished())


if __name__ == '__main__':
    main()
