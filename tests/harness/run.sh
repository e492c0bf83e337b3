#!/usr/bin/env bash
# The test driver behind `make test` and `make test-quick`.
#   run.sh all    : set up everything on a fresh machine, then every tier, Molecule included
#   run.sh quick  : the same without Molecule
#   run.sh takeover : set up, then the scenarios that do not fit in `all`'s ten
#                     minutes: the starter kit (attach and adopt an n8n on Postgres),
#                     and beside it the Linux host kinds and the ollama_host role on
#                     systemd; CI runs it after `all`
#   run.sh scale    : set up, then the scaling-out scenario (n8n in queue mode on
#                     Postgres with workers, LiteLLM replicas sharing Redis); CI
#                     runs it after `takeover`
#   run.sh STAGE… : only the named stages (see `stages` below)
# Each stage is timed; a summary table is printed at the end, whatever happened.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

setup_stages=(engine venv compose base-image images standin n8n-install n8n-up collection-link)
check_stages=(yamllint changelog ansible-lint unit sanity build docs docsite)
# `all` runs these two groups side by side: the full-rollout scenario spends most
# of its time waiting on containers, so the module tests fit in beside it, and
# the small scenario after it (the module tests alone take about as long as the
# two scenarios). They share no names, ports, subnets or folders.
side_stages=(integration)
main_stages=(molecule-default molecule-preflight)
takeover_side_stages=(molecule-linux molecule-ollama-host)
takeover_main_stages=(molecule-starter)

timings="$LLM_GATEWAY_RUN/timings.$$"
: >"$timings"
# Every stage's output is also kept in a file of its own; the end of a failed run
# names the lines that say why, so a log cut to its last lines still explains it.
stage_logs="$LLM_GATEWAY_RUN/logs"
rm -rf "$stage_logs"; mkdir -p "$stage_logs"
overall_start=$(date +%s)

venv_bin() { echo "$LLM_GATEWAY_CACHE/venv/bin"; }
with_venv() { PATH="$(venv_bin):$PATH" "$@"; }

stage_engine()          { "$HARNESS_DIR/docker-engine.sh" up; }
stage_venv()            { "$HARNESS_DIR/venv.sh" >/dev/null; }
stage_compose()         { "$HARNESS_DIR/compose.sh"; }
stage_base_image()      { "$HARNESS_DIR/base-image.sh" bookworm; "$HARNESS_DIR/base-image.sh" sid; }
stage_images()          { "$HARNESS_DIR/images.sh" build; }
stage_standin()         { "$HARNESS_DIR/standin.sh" up standin "${LLM_GATEWAY_STANDIN_PORT:-11434}"; }
stage_n8n_install()     { "$HARNESS_DIR/n8n.sh" install; }
stage_n8n_up()          { "$HARNESS_DIR/n8n.sh" up "${LLM_GATEWAY_N8N_PORT:-5678}" >/dev/null; }
stage_collection_link() {
  mkdir -p .cache/collections/ansible_collections/local_ai
  ln -sfn ../../../.. .cache/collections/ansible_collections/local_ai/llm_gateway
}
stage_yamllint()        { with_venv yamllint --strict .; }
stage_changelog()       { with_venv antsibull-changelog lint && with_venv antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml; }
stage_ansible_lint()    { with_venv ansible-lint --offline; }
stage_unit()            { with_venv python -m pytest -q tests/unit; }
stage_sanity() {
  # ansible-test installs its own pinned checkers, so it gets a venv of its own,
  # with the same ansible-core as the test venv.
  local core venv pip_version staged
  core=$(grep -E '^ansible-core==' tests/requirements.txt | cut -d= -f3)
  venv="$LLM_GATEWAY_CACHE/sanity-venv-$core"
  if [ ! -x "$venv/bin/ansible-test" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "ansible-core==$core"
  fi
  # ansible-test bootstraps pip in its venvs with a script from a host that is not
  # reachable here; give it the offline equivalent under the name it looks for.
  pip_version=$("$venv/bin/python" -c "import re,ansible_test,os;p=os.path.join(os.path.dirname(ansible_test.__file__),'_internal','python_requirements.py');print(re.search(r\"pip='([0-9.]+)'\",open(p).read()).group(1))")
  install -D -m 0644 "$HARNESS_DIR/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  staged=$("$HARNESS_DIR/stage-collection.sh" "$LLM_GATEWAY_RUN/sanity")
  (cd "$staged" && PATH="$venv/bin:$PATH" ansible-test sanity --local --requirements --python 3.11 --color no)
}
stage_docs() {
  # The docs of every plugin, module and role as antsibull-docs checks them for
  # a docsite, and the collection's needs in an execution environment as
  # ansible-builder reads them (meta/execution-environment.yml), both from the
  # collection the build stage installed from its tarball.
  local out="$LLM_GATEWAY_RUN/build"
  [ -d "$out/collections/ansible_collections/local_ai/llm_gateway" ] || die "the docs stage needs the build stage's installed collection"
  # (A stage runs in an `||` list, where set -e does not hold: each step says its failure.)
  ANSIBLE_COLLECTIONS_PATH="$out/collections" with_venv antsibull-docs lint-collection-docs --plugin-docs \
    --validate-collection-refs=self --skip-rstcheck . || die "antsibull-docs found the problems above in the docs"
  with_venv ansible-builder introspect --sanitize "$out/collections" >"$out/ee-introspect.yml" \
    || die "ansible-builder introspect failed"
  grep -q '^- .requests>=2.25.0  # from collection local_ai.llm_gateway.$' "$out/ee-introspect.yml" \
    || die "ansible-builder did not read the collection's execution-environment needs: $(cat "$out/ee-introspect.yml")"
  # The EE definition users build (ee/): ansible-builder writes its build context (no image is built here).
  rm -rf "$out/ee-context"
  with_venv ansible-builder create -f ee/execution-environment.yml --context "$out/ee-context" >/dev/null \
    || die "ansible-builder create refused ee/execution-environment.yml"
  grep -q '^  - name: local_ai.llm_gateway$' "$out/ee-context/_build/requirements.yml" \
    || die "the EE build context does not install the collection: $(cat "$out/ee-context/_build/requirements.yml")"
  grep -q 'introspect.py introspect' "$out/ee-context/Dockerfile" \
    || die "the EE build context does not read the collections' needs"
  log "antsibull-docs finds nothing to fix; an execution environment gets the collection's Python needs (requests), and ee/ builds one"

}
stage_docsite() {
  # The docsite collections publish, built by antsibull-docs and Sphinx from the
  # collection the build stage installed from its tarball (make docs; not
  # committed). Offline: no inventories of other docsites are fetched, so the
  # links to Ansible's own docs (common return values, ansible.builtin's
  # options) stay unresolved, and those warnings alone are let through.
  local out="$LLM_GATEWAY_RUN/build" site="$LLM_GATEWAY_RUN/docsite"
  [ -d "$out/collections/ansible_collections/local_ai/llm_gateway" ] || die "the docsite stage needs the build stage's installed collection"
  rm -rf "$site" && mkdir -m 0755 "$site"
  ANSIBLE_COLLECTIONS_PATH="$out/collections" with_venv antsibull-docs sphinx-init --use-current --dest-dir "$site" \
    local_ai.llm_gateway >/dev/null || die "antsibull-docs sphinx-init failed"
  printf '%s\n' '' '# make docs builds offline.' 'intersphinx_mapping = {}' \
    "suppress_warnings = ['ref.ref', 'misc.highlighting_failure']" >>"$site/conf.py"
  (cd "$site" && ANSIBLE_COLLECTIONS_PATH="$out/collections" with_venv ./build.sh) \
    || die "the docsite did not build: see the warnings above"
  for page in index collections/local_ai/llm_gateway/n8n_workflow_urls_module \
              collections/local_ai/llm_gateway/stack_role collections/local_ai/llm_gateway/value_problems_filter; do
    [ -s "$site/build/html/$page.html" ] || die "the docsite lacks $page.html"
  done
  log "the docsite is in $site/build/html (index.html)"
}
stage_build() {
  # Build the tarball, install it offline into an empty folder, and render the
  # modules' docs from there only (not from this checkout, not from ansible.cfg).
  local out="$LLM_GATEWAY_RUN/build" tarball m
  rm -rf "$out"; mkdir -p "$out/collections"
  with_venv ansible-galaxy collection build --force --output-path "$out" .
  tarball=$(ls "$out"/local_ai-llm_gateway-*.tar.gz)
  # Only what users need (docs/ too, which the README links to): no test, lint, bench, Molecule or local
  # inventory files; of changelogs/, the release data and its configuration, no fragments.
  local top
  top=$(tar -tzf "$tarball" | sed -e 's|^\./||' | awk -F/ '$1 == "inventory" || $1 == "changelogs" {if ($2 != "") print $1 "/" $2; next} {print $1}' \
        | sort -u | tr '\n' ' ')
  [ "$top" = "CHANGELOG.md CHANGELOG.rst FILES.json LICENSE MANIFEST.json README.md changelogs/changelog.yaml changelogs/config.yaml docs inventory/example inventory/example-scale meta playbooks plugins requirements.yml roles " ] \
    || die "the tarball holds more or less than users need: $top"
  ! tar -tzf "$tarball" | grep -q '__pycache__\|\.pyc$' || die "the tarball holds compiled Python files"
  : >"$out/ansible.cfg"
  (
    cd "$out"
    export ANSIBLE_CONFIG="$out/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$out/collections"
    with_venv ansible-galaxy collection install --offline --no-deps --force -p "$out/collections" "$tarball"
    test -f "$out/collections/ansible_collections/local_ai/llm_gateway/plugins/modules/n8n_workflow_urls.py"
    for m in ollama_check n8n_workflow_urls; do
      with_venv ansible-doc "local_ai.llm_gateway.$m" >"$out/$m.doc"
    done
  )
  grep -q 'pull_missing' "$out/ollama_check.doc"
  grep -q 'to: http://llama-nginx/api/generate' "$out/n8n_workflow_urls.doc"
  log "built $(basename "$tarball") (only what users need), installed it offline, ansible-doc renders both modules with their examples"
}
stage_integration()     { with_venv python -m pytest -q tests/integration; }
# The module tests that talk to n8n, against the n8n that N8N_VERSION names.
stage_integration_n8n() { with_venv python -m pytest -q -rs tests/integration/test_n8n_*.py; }
molecule_env() {
  # Molecule wraps its output at the terminal's width (80 columns without one):
  # wide lines keep a test's name and its verdict on one line.
  export COLUMNS=${COLUMNS:-200}
  eval "$("$HARNESS_DIR/n8n.sh" paths)"
  export LLM_GATEWAY_N8N_NODE_DIR=$NODE_DIR LLM_GATEWAY_N8N_APP_DIR=$N8N_APP_DIR
  LLM_GATEWAY_STANDIN_ADDR=$("$HARNESS_DIR/standin.sh" addr); export LLM_GATEWAY_STANDIN_ADDR
}
stage_molecule_preflight() { molecule_env; with_venv molecule test -s preflight; }
stage_molecule_default()   { molecule_env; with_venv molecule test -s default; }
stage_molecule_phase1()    { molecule_env; with_venv molecule test -s phase1; }
stage_molecule_linux()     { molecule_env; with_venv molecule test -s linux; }
stage_molecule_ollama_host() { molecule_env; with_venv molecule test -s ollama_host; }
stage_molecule_starter()   { molecule_env; with_venv molecule test -s starter; }
stage_molecule_scale()     { molecule_env; with_venv molecule test -s scale; }

run_stage() {
  local name=$1 fn start rc
  fn="stage_${name//-/_}"
  start=$(date +%s%N)
  printf '\n===== %s =====\n' "$name" >&2
  set +e
  ( set -e; "$fn" ) > >(tee "$stage_logs/$name.log") 2>&1
  rc=$?
  set -e
  local tenths=$(( ($(date +%s%N) - start) / 100000000 ))
  printf '%s %d.%d %s\n' "$name" $((tenths / 10)) $((tenths % 10)) "$([ $rc -eq 0 ] && echo ok || echo FAILED)" >>"$timings"
  return $rc
}

summary() {
  local total=$(( $(date +%s) - overall_start )) passed failed
  printf '\n===== timing summary =====\n'
  printf '%-22s %9s  %s\n' stage seconds result
  while read -r name secs result; do printf '%-22s %9s  %s\n' "$name" "$secs" "$result"; done <"$timings"
  printf '%-22s %9s\n' total "$total"
  passed=$(grep -c ' ok$' "$timings" || true)
  failed=$(grep -c ' FAILED$' "$timings" || true)
  printf '\nstages: %s passed, %s failed\n' "$passed" "$failed"
  if [ -s "$timings.failed" ]; then
    sleep 1  # let the last tee finish writing
    while read -r name; do why_failed "$name"; done <"$timings.failed"
  fi
  rm -f "$timings" "$timings.failed"
}
why_failed() {  # the last lines of a stage's log that say what went wrong
  local name=$1 clean lines
  printf '\nwhy %s failed (whole output: %s):\n' "$name" "$stage_logs/$name.log"
  clean=$(sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^[[:space:]│]*//' "$stage_logs/$name.log" 2>/dev/null | grep -v '^$' || true)
  lines=$(grep -E '^(fatal:|failed:|E  |FAILED|ERROR|CRITICAL|Error|error:|msg:|AssertionError|"msg")|[a-z_]+\.py::[^ ]+ FAILED| - (assert|Assert)|^[0-9]+:[0-9]+ +error |^[A-Za-z.]*Error: |^\* \[[^]]+\] => ' <<<"$clean" | grep -v -- '- RETRYING:' || true)
  [ -n "$lines" ] || lines=$(tail -n 8 <<<"$clean")
  cut -c1-300 <<<"$lines" | tail -n 12 | sed 's/^/  /'
}
trap summary EXIT

run_stages() {
  local s
  for s in "$@"; do
    run_stage "$s" || { echo "$s" >>"$timings.failed"; return 1; }
  done
}

# run_beside "SIDE STAGES" "MAIN STAGES": the side ones in the background, their
# output printed after the main ones end.
run_beside() {
  local side_log="$LLM_GATEWAY_RUN/side-stages.log" side_pid
  log "running $1 beside $2 (their output: $side_log, printed at the end)"
  # shellcheck disable=SC2086  # the stage names are words
  run_stages $1 >"$side_log" 2>&1 &
  side_pid=$!
  # shellcheck disable=SC2086
  run_stages $2 || true
  wait "$side_pid" || true
  printf '\n===== output of %s =====\n' "$1" >&2
  cat "$side_log" >&2
}

apt_install git
case "${1:-all}" in
  all|takeover)
    stages=("${setup_stages[@]}")
    [ "${1:-all}" = all ] && stages+=("${check_stages[@]}")
    run_stages "${stages[@]}" || true
    if [ ! -s "$timings.failed" ]; then
      if [ "${1:-all}" = all ]; then
        run_beside "${side_stages[*]}" "${main_stages[*]}"
      else
        run_beside "${takeover_side_stages[*]}" "${takeover_main_stages[*]}"
      fi
    fi
    ;;
  scale) run_stages "${setup_stages[@]}" molecule-scale || true ;;
  # The other n8n line the collection supports (docs/before-you-start.md): its
  # own install and instance, on a port of its own, for the module tests.
  n8n-releases)
    export N8N_VERSION="${LLM_GATEWAY_N8N_OTHER_RELEASE:-1.123.81}" NODE_VERSION=24.21.0
    export LLM_GATEWAY_N8N_PORT="${LLM_GATEWAY_N8N_OTHER_PORT:-5690}"
    run_stages engine venv standin n8n-install n8n-up collection-link integration-n8n || true ;;
  quick) run_stages "${setup_stages[@]}" "${check_stages[@]}" integration || true ;;
  docsite) run_stages venv collection-link build docsite || true ;;
  *)     run_stages "$@" || true ;;
esac
if [ -s "$timings.failed" ]; then
  die "failed: $(tr '\n' ' ' <"$timings.failed")"
fi
