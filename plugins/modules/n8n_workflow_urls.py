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

import concurrent.futures
import functools
import json
import os
import threading

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n import (
    CredentialState, N8nClient, connection_argument_spec, explain, is_global_failure, make_run_folder, read_backups,
    read_journal, run_stamp, short_fingerprint, validate_connection, write_backup, write_journal,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import (
    changed_during_restore, content_differs, node_differences, pending_entry, restore_diff, restore_refusal,
    restore_skip, restore_steps, restored_ok, settled_entry,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import (
    RuleError, apply_credential, apply_moves, build_moves, build_rules, diff_entry, pending_rewrites, plan_nodes,
    plan_workflow,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import (
    changed_since, concurrency_entry, credential_users, in_scope, is_active, put_body, restore_body,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import (
    OPENAI_CHAT, Context, OpenAIChatConverter, validate_model_map,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_node import HEADER_AUTH

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


class Runner(object):
    """State of one module run: client, results, backups, and the write pool."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.url = module.params['url'].rstrip('/')
        self.client = N8nClient(module, self.url, module.params['api_key'], timeout=module.params['timeout'],
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
    def fail(self, msg, **extra):
        self.result['api_calls'] = self.client.counts
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    def finish(self):
        self.result['api_calls'] = self.client.counts
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
            self.module.fail_json(msg=msg, **self.result)
        self.module.exit_json(**self.result)

    @property
    def wrote_credential(self):
        credential = self.result.get('credential') or {}
        return credential.get('action') in ('created', 'updated') or any(
            move['action'] == 'created' for move in self.result['credential_moves'])

    # -- the record of the credentials this module manages ---------------------------------
    def credential_state(self):
        if self._credential_state is None:
            path = self.params['credential_state'] or os.path.join(os.path.abspath(self.params['backup_dir']),
                                                                   'credentials.json')
            try:
                self._credential_state = CredentialState(path).load()
            except ValueError as exc:
                self.fail('%s. Nothing was written.' % exc)
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
            self.fail('Cannot write the backups under %s: %s. Nothing was written to n8n; fix backup_dir (or '
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

    # -- the run's journal, written as each workflow is (see _n8n.write_journal) -------------
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
            self.fail('Cannot write the backups under %s: %s. Nothing was written to n8n; fix backup_dir (or '
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


# ------------------------------------------------------------------------------------------
# state: present

# Optimistic concurrency: the public API has no If-Match, so each workflow is read again right before
# its write and compared with the copy the plan was made from. When it changed, the plan is made again
# from the fresh copy (the plan is a pure function of the workflow), so an edit made meanwhile is kept.

def note_changed(runner, entry):
    with runner.lock:
        runner.result['changed_since_read'].append(entry)


def read_again(runner, plan, entry):
    """``(fresh copy, None)``, or ``(None, outcome)`` when it cannot be written."""
    try:
        return runner.client.get_workflow(plan.id), None
    except ApiError as exc:
        if exc.status == 404:
            reason = 'the workflow was deleted after the listing; nothing was written'
            note_changed(runner, concurrency_entry(plan, None, 'skipped', reason))
            return None, 'not_written'
        if is_global_failure(exc):
            runner.abort.set()
        # nothing was sent: its publication is as listed
        return None, runner.failure(entry, 'not written: reading it again right before the write failed: %s'
                                    % explain(exc, runner.url), False, entry['active'])


def replan(runner, plan, fresh, rules):
    """The plan made again from ``fresh``, or None when it must not be written (reported)."""
    new = plan_workflow(fresh, rules, publish_drafts=runner.params['publish_drafts'], context=runner.context,
                        moves=runner.moves)
    with runner.lock:
        runner.replanned[plan.id] = new
    reason = None
    if new.action is None:
        reason = 'it no longer needs a rewrite (someone else changed it); nothing was written'
    elif new.action == 'skip':
        reason = 'it changed and must now be left alone: %s' % '; '.join(
            s['reason'] for s in new.skipped if s['kind'] in ('archived', 'unpublished_draft', 'unsupported_node_keys'))
    elif new.conversions and runner.params['auth'] and runner.credential_ref is None:
        reason = ('it now has a node to convert, which needs the credential %r that this run did not look up; '
                  're-run the task' % runner.params['auth']['credential_name'])
    elif any(runner.moves[c.path[1]].ref['id'] is None for c in new.changes if c.path[0] == 'credentials' and
             c.path[1] in runner.moves):
        reason = 'it now has a node to move to a credential that this run did not create; re-run the task'
    if reason:
        note_changed(runner, concurrency_entry(plan, fresh, 'skipped', reason))
        return None
    if runner.credential_ref:
        apply_credential(new.new_nodes, new.changes, runner.credential_ref, HEADER_AUTH)
    apply_moves(new.new_nodes, new.changes, runner.moves)
    reason = ('it changed after the listing; the rules were applied again to the copy read before the write, so '
              'the other change is kept')
    note_changed(runner, concurrency_entry(plan, fresh, 'replanned', reason))
    return new


def write_fresh(runner, plan, rules, entry):
    """Read the workflow again, plan again when it changed, back the fresh copy up, then write."""
    fresh, outcome = read_again(runner, plan, entry)
    if fresh is None:
        return outcome
    if changed_since(plan.workflow, fresh):
        plan = replan(runner, plan, fresh, rules)
        if plan is None:
            return 'not_written'
        entry.update(nodes=plan.changed_nodes, action=plan.action, active=plan.active)
    try:
        runner.backup(fresh)
        runner.note_writing(fresh)
    except OSError as exc:
        runner.abort.set()
        return runner.failure(entry, 'not written: its backup or the run\'s journal could not be written under %s '
                                     '(%s); fix backup_dir and re-run' % (runner.backup_folder, exc), False,
                              is_active(fresh))
    return write_plan(runner, plan, rules, entry, fresh)


def merge_replanned(runner, plans):
    """Replace what the listing said of re-planned workflows (skipped items, conversions, diff)."""
    final = runner.replanned
    result = runner.result
    result['changed_since_read'].sort(key=lambda e: str(e['id']))
    if not final:
        return
    result['skipped_items'] = [s for s in result['skipped_items'] if s['id'] not in final] + [
        s for plan in final.values() for s in plan.skipped]
    result['conversions'] = [c for c in result['conversions'] if c['id'] not in final] + [
        c for plan in final.values() for c in plan.conversions]
    if 'diff' in result:
        for index, plan in enumerate(plans):
            if plan.id in final:
                result['diff'][index] = diff_entry(final[plan.id])


def write_plan(runner, plan, rules, entry, fresh):
    client = runner.client
    try:
        if plan.action == 'put':
            answer = client.put_workflow(plan.id, put_body(plan.workflow, plan.new_nodes))
        else:
            answer = client.activate(plan.id)
    except ApiError as exc:
        if is_global_failure(exc):
            runner.abort.set()
        current = runner.read_back(plan.id)
        if current is None:     # its journal entry keeps the outcome unknown
            return runner.failure(entry, explain(exc, runner.url), None, None)
        runner.note_written(fresh, current)
        saved = not plan_nodes(current.get('nodes'), rules, current.get('connections'), runner.context).changes
        active_after = is_active(current)
        error = explain(exc, runner.url)
        if saved and plan.active and active_after and exc.status == 403:
            error = ('saved as an unpublished draft, but not published: the API key lacks workflow:activate (%s). '
                     'Give the key that scope and re-run with publish_drafts: true (the draft holds only this '
                     'change), or publish the workflow in n8n' % error)
        elif saved and plan.active and not active_after:
            error = 'saved, but n8n did not republish it and it is now inactive: %s' % error
        elif saved:
            error = 'n8n saved it but answered with an error: %s' % error
        return runner.failure(entry, error, saved, active_after)
    current = answer
    if plan.active:
        try:
            current = client.get_workflow(plan.id)
        except ApiError as exc:
            if is_global_failure(exc):
                runner.abort.set()
            return runner.failure(entry, 'saved (the PUT answered 200), but reading it back to confirm that it is '
                                         'still active failed: %s' % explain(exc, runner.url), True, None)
    runner.note_written(fresh, current, written=True)
    left = pending_rewrites(current, rules, runner.context)
    active_after = is_active(current)
    if plan.active and not active_after:
        return runner.failure(entry, 'saved, but the workflow is no longer active (n8n did not republish it); '
                                     'publish it in n8n or restore its backup', not left, False)
    if plan.active and current.get('activeVersionId') != current.get('versionId'):
        return runner.failure(entry, 'saved, but n8n still runs an older published version (%s, draft %s)'
                              % (current.get('activeVersionId'), current.get('versionId')), not left, True)
    if left:
        return runner.failure(entry, 'n8n answered 200 but still holds the old URL in node(s) %s'
                              % ', '.join(sorted(set(c.node or '' for c in left))), False, active_after)
    return None


def conversion_context(module, rules):
    """The context of the openai_chat conversion, or None when no rule converts."""
    params = module.params
    converting = any(rule.convert == OPENAI_CHAT for rule in rules)
    if not converting:
        if params['model_map'] or params['auth']:
            module.warn('model_map and auth are only used by rules with convert: %s; no rule has it.' % OPENAI_CHAT)
        return None
    problem = validate_model_map(params['model_map'])
    if problem:
        module.fail_json(msg=problem)
    auth = params['auth'] or {}
    if auth:
        if not (auth.get('credential_name') or '').strip():
            module.fail_json(msg='auth.credential_name must not be empty')
        if not (auth.get('header') or '').strip():
            module.fail_json(msg='auth.header must not be empty')
        if auth.get('value') is not None and not auth['value'].strip():
            module.fail_json(msg='auth.value must not be empty (leave it out to use an existing credential)')
    return Context(params['model_map'], auth.get('credential_name'), auth.get('header'))


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
            runner.fail('n8n has no %s credential named %r, and credential_moves[].data is not set to create it. '
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
        runner.fail('Cannot create the n8n credential %r: %s No workflow was written.'
                    % (name, explain(exc, runner.url)), status=exc.status)
    if not created.get('id'):
        runner.fail('n8n created the credential %r but did not say its id. No workflow was written.' % name)
    return {'id': created['id'], 'name': created.get('name') or name}


def find_credential(runner, name, cred_type=HEADER_AUTH):
    """The credential of this type (Header Auth by default) named ``name``, or None; fails when several carry
    the name."""
    runner.result['changed'] = False     # until something is written: any failure here writes nothing
    try:
        found = runner.client.find_credentials(name, cred_type)
    except ApiError as exc:
        runner.fail('Cannot look up the n8n credential %r: %s Nothing was written.' % (name, explain(exc, runner.url)),
                    status=exc.status)
    if len(found) > 1:
        runner.fail('n8n has %d %s credentials named %r (ids %s); rename or delete all but one. Nothing was written.'
                    % (len(found), cred_type, name, ', '.join(sorted(c['id'] for c in found))))
    return found[0] if found else None


def resolve_credential(module, runner, plans):
    """Look up the credential the converted nodes need (a GET) and decide what to do with it.

    Returns None (nothing to write), ``('create', name)`` or ``('update', credential)``. With
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
            runner.fail('n8n has no %s credential named %r, and auth.value is not set to create it. Nothing was '
                        'written.' % (HEADER_AUTH, name))
        runner.result['credential'] = {'id': None, 'name': name, 'type': HEADER_AUTH, 'action': 'create'}
        return ('create', name)
    ref = {'id': existing['id'], 'name': existing['name']}
    runner.credential_ref = ref
    for plan in plans:
        apply_credential(plan.new_nodes, plan.changes, ref, HEADER_AUTH)
    if value is not None and not state.matches(state.get(existing['id']), auth['header'], header_auth_identity(auth)):
        runner.result['credential'] = {'id': existing['id'], 'name': name, 'type': HEADER_AUTH, 'action': 'update'}
        return ('update', existing)
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
        runner.fail('Cannot update the n8n credential %r (%s): %s No workflow was written.'
                    % (credential['name'], credential['id'], explain(exc, runner.url)), status=exc.status)
    runner.result['credential']['action'] = 'updated'
    runner.result['changed'] = True
    state = runner.credential_state()
    record = state.get(credential['id']) or {}
    state.remember(credential['id'], credential['name'], HEADER_AUTH, record.get('created', False), auth['header'],
                   header_auth_identity(auth))
    runner.save_credential_state()


def present(module, runner):
    params = module.params
    try:
        rules = build_rules(params['rewrites'], {OPENAI_CHAT: OpenAIChatConverter()})
    except RuleError as exc:
        runner.fail(str(exc))
    try:
        runner.moves = build_moves(params['credential_moves'])
    except RuleError as exc:
        runner.fail(str(exc))
    runner.context = conversion_context(module, rules)
    find_move_targets(runner)
    try:
        workflows = list(runner.client.list_workflows(active_only=params['active_only']))
    except ApiError as exc:
        runner.fail(explain(exc, runner.url), status=exc.status)

    listed_ids = set(w.get('id') for w in workflows)
    unknown = [wid for wid in params['workflow_ids'] if wid not in listed_ids]
    if unknown and not params['active_only']:
        runner.fail('n8n at %s has no workflow with the id(s) %s; nothing was written.'
                    % (runner.url, ', '.join(unknown)))
    scoped = [w for w in workflows if in_scope(w, params)]
    if params['names'] and not scoped:
        module.warn('No workflow matched names=%s (names are matched exactly).' % params['names'])
    runner.result['workflows_in_scope'] = len(scoped)

    plans = []
    for workflow in scoped:
        plan = plan_workflow(workflow, rules, publish_drafts=params['publish_drafts'], context=runner.context,
                             moves=runner.moves)
        runner.result['skipped_items'].extend(plan.skipped)
        if plan.action in ('put', 'publish'):
            plans.append(plan)
            runner.result['conversions'].extend(plan.conversions)
    todo = resolve_credential(module, runner, plans)
    new_targets = move_targets_to_create(runner, plans)
    runner.result['changed'] = bool(plans) or bool(todo)
    updating = todo[1] if todo and todo[0] == 'update' else None
    if module._diff:
        runner.result['diff'] = [diff_entry(plan) for plan in plans]
        if updating:
            runner.result['diff'].append(credential_diff(runner, updating))
    if module.check_mode:
        runner.result['changed_workflows'] = [entry_of(plan) for plan in plans]
        runner.finish()

    if plans:
        runner.open_backups()
    if new_targets:
        create_move_targets(runner, plans, new_targets)
    if updating:
        update_credential(module, runner, updating)
    elif todo:
        create_credential(module, runner, plans, todo[1])
    if module._diff and (todo or new_targets):
        runner.result['diff'][:len(plans)] = [diff_entry(plan) for plan in plans]
    jobs = []
    for plan in plans:
        entry = entry_of(plan)
        jobs.append((entry, lambda plan=plan, entry=entry: write_fresh(runner, plan, rules, entry)))
    runner.run_jobs(jobs)
    merge_replanned(runner, plans)
    written = set(entry['id'] for entry in runner.result['changed_workflows'])
    runner.result['conversions'] = [c for c in runner.result['conversions'] if c['id'] in written]
    runner.result['changed'] = bool(runner.result['changed_workflows']) or runner.wrote_credential
    runner.finish()


def entry_of(plan):
    return {'id': plan.id, 'name': plan.name, 'nodes': plan.changed_nodes, 'active': plan.active,
            'action': plan.action}


# ------------------------------------------------------------------------------------------
# state: restored

def restore_one(runner, path, current, backup, steps, entry):
    """Read the workflow again; unless it changed since ``current`` was read (and backed up), journal it and
    make the ``steps``."""
    client = runner.client
    wid = backup['id']
    with_static = runner.params['restore_static_data']
    try:
        fresh = client.get_workflow(wid)
    except ApiError as exc:
        if exc.status == 404:
            skip = restore_skip(backup, path, 'deleted', 'n8n has no workflow %s any more (it was deleted while this '
                                                         'restore ran); import %s in the n8n editor to get it back'
                                % (wid, path))
        else:
            if is_global_failure(exc):
                runner.abort.set()
            return runner.failure(entry, 'not restored: reading it again right before the write failed: %s'
                                  % explain(exc, runner.url), False, entry['active'])
    else:
        changed = changed_during_restore(current, fresh, with_static)
        skip = restore_skip(backup, path, 'changed_since_read', changed) if changed else None
    if skip:
        with runner.lock:
            runner.result['skipped_items'].append(skip)
        return 'not_written'
    try:
        runner.note_writing(fresh)
    except OSError as exc:
        runner.abort.set()
        return runner.failure(entry, 'not restored: the journal could not be written in %s (%s)'
                              % (runner.backup_folder, exc), False, entry['active'])
    for step in steps:
        try:
            if step == 'put':
                client.put_workflow(wid, restore_body(backup) if with_static else put_body(backup))
            elif step == 'activate':
                client.activate(wid)
            elif step == 'activate_version':
                client.activate(wid, backup.get('activeVersionId'))
            else:
                client.deactivate(wid)
        except ApiError as exc:
            if is_global_failure(exc):
                runner.abort.set()
            after = runner.read_back(wid)
            if after is not None:
                runner.note_written(fresh, after)
            return runner.failure(entry, '%s: %s' % (step, explain(exc, runner.url)),
                                  None if after is None else not content_differs(after, backup, with_static),
                                  None if after is None else is_active(after))
    after = client.get_workflow(wid)
    runner.note_written(fresh, after, written=True)
    problem = restored_ok(after, backup, with_static)
    if problem:
        return runner.failure(entry, 'restored, but %s' % problem, not content_differs(after, backup, with_static),
                              is_active(after))
    return None


def restore(module, runner):
    params = module.params
    try:
        backups, warnings = read_backups(params['backup'])
    except ValueError as exc:
        runner.fail(str(exc))
    for warning in warnings:
        module.warn(warning)
    journal = {}
    if not params['force']:
        try:
            journal = read_journal(params['backup'])
        except ValueError as exc:
            runner.fail('%s. Nothing was restored; set force: true to restore without checking for later edits.'
                        % exc)
    if params['workflow_ids']:
        backups = [(path, wf) for path, wf in backups if wf['id'] in params['workflow_ids']]
    runner.result['workflows_in_scope'] = len(backups)
    todo = []
    for path, backup in backups:
        try:
            current = runner.client.get_workflow(backup['id'])
        except ApiError as exc:
            if exc.status == 404:
                runner.result['skipped_items'].append(restore_skip(
                    backup, path, 'deleted', 'n8n has no workflow %s any more; import %s in the n8n editor to get it '
                                             'back' % (backup['id'], path)))
                continue
            runner.fail(explain(exc, runner.url), status=exc.status)
        if current.get('isArchived'):
            runner.result['skipped_items'].append(restore_skip(
                backup, path, 'archived', 'the workflow is archived now; n8n refuses to update it (unarchive it '
                                          'first)'))
            continue
        steps = restore_steps(current, backup, params['restore_static_data'])
        refusal = restore_refusal(journal.get(str(backup['id'])), current, path) if steps and not params['force'] \
            else None
        if refusal:
            runner.result['skipped_items'].append(restore_skip(backup, path, *refusal))
        elif steps:
            todo.append((path, current, backup, steps))
    runner.result['changed'] = bool(todo)
    entries = []
    for path, current, backup, steps in todo:
        names = list(node_differences(current.get('nodes'), backup.get('nodes')))
        entries.append({'id': backup['id'], 'name': backup.get('name'), 'nodes': names,
                        'active': is_active(current), 'action': ','.join(steps)})
    if module._diff:
        runner.result['diff'] = [restore_diff(current, backup) for path, current, backup, steps in todo]
    if module.check_mode:
        runner.result['changed_workflows'] = entries
        runner.finish()
    runner.write_backups([current for path, current, backup, steps in todo])
    jobs = []
    for entry, (path, current, backup, steps) in zip(entries, todo):
        jobs.append((entry, functools.partial(restore_one, runner, path, current, backup, steps, entry)))
    runner.run_jobs(jobs)
    runner.result['changed'] = bool(runner.result['changed_workflows']) or any(
        f.get('saved') for f in runner.result['failed_workflows'])
    runner.finish()


# ------------------------------------------------------------------------------------------
# state: credential_absent

def credential_absent(module, runner):
    """Delete the credential this module created, when no workflow uses it any more."""
    auth = module.params['auth'] or {}
    name = (auth.get('credential_name') or '').strip()
    if not name:
        runner.fail('state credential_absent needs auth.credential_name')
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
        runner.finish()
    record = state.get(existing['id'])
    if not record or not record.get('created'):
        credential.update(action='kept', reason='this module did not create it (%s has no record of creating '
                                                'credential %s); delete it in n8n if it is no longer wanted'
                                                % (state.path, existing['id']))
        runner.finish()
    try:
        workflows = list(runner.client.list_workflows())
    except ApiError as exc:
        runner.fail(explain(exc, runner.url), status=exc.status)
    users = credential_users(workflows, existing['id'])
    runner.result['workflows_in_scope'] = len(workflows)
    if users:
        shown = ['%s (%s): %s' % (wf.get('name'), wf.get('id'), ', '.join(str(n) for n in nodes))
                 for wf, nodes in users[:5]]
        credential.update(action='kept', reason='%d workflow(s) still use it - %s%s' % (
            len(users), '; '.join(shown), ' ...' if len(users) > 5 else ''))
        runner.finish()
    runner.result['changed'] = True
    if module._diff:
        header = 'n8n credential %s (%s)' % (name, existing['id'])
        runner.result['diff'] = [{'before_header': header, 'after_header': header,
                                  'before': {'state': 'present'}, 'after': {'state': 'absent'}}]
    if module.check_mode:
        credential['action'] = 'delete'
        runner.finish()
    try:
        runner.client.delete_credential(existing['id'])
    except ApiError as exc:
        if exc.status != 404:
            runner.result['changed'] = False
            runner.fail('Cannot delete the n8n credential %r (%s): %s' % (name, existing['id'],
                                                                          explain(exc, runner.url)),
                        status=exc.status)
    credential['action'] = 'deleted'
    state.forget(existing['id'])
    runner.save_credential_state()
    runner.finish()


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
    if module.params['state'] == 'present':
        present(module, runner)
    elif module.params['state'] == 'credential_absent':
        credential_absent(module, runner)
    else:
        restore(module, runner)


if __name__ == '__main__':
    main()
