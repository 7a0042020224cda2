#!/usr/bin/env bash
# Builds the LINE connector (Python) into a WebAssembly component.
#
#   bash plugins/line/build.sh [OUT.wasm]
#
# OUT defaults to target/wasm32-wasip2/plugin/line.wasm under the repository
# root; a relative OUT is taken from the current directory. Runs the unit
# tests first, then `componentize-py componentize`.
#
# componentize-py is $COMPONENTIZE_PY if set, else `componentize-py` on PATH,
# else the venv ${OMNI_TOOLS_DIR:-<repo>/target/tools}/py, created with
# `python3 -m venv` and `pip install componentize-py==0.25.1` when missing.
# The WIT bindings are generated at build time (by componentize-py inside the
# build, by the tests into a temporary directory); none are written here.
set -euo pipefail
shopt -s inherit_errexit  # failures inside $(...) stop the script too

COMPONENTIZE_PY_VERSION=0.25.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/wasm32-wasip2/plugin/line.wasm}"
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac

log() { printf 'line: %s\n' "$*" >&2; }

find_componentize_py() {
  if [[ -n "${COMPONENTIZE_PY:-}" ]]; then
    printf '%s\n' "$COMPONENTIZE_PY"
    return
  fi
  if command -v componentize-py >/dev/null 2>&1; then
    command -v componentize-py
    return
  fi
  local venv="${OMNI_TOOLS_DIR:-$repo/target/tools}/py"
  if [[ ! -x "$venv/bin/componentize-py" ]]; then
    log "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
    python3 -m venv "$venv" >&2
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      "componentize-py==$COMPONENTIZE_PY_VERSION" >&2; then
      log "error: could not install componentize-py $COMPONENTIZE_PY_VERSION into $venv"
      return 1
    fi
  fi
  printf '%s\n' "$venv/bin/componentize-py"
}

componentize_py="$(find_componentize_py)"
if [[ ! -x "$componentize_py" ]] && ! command -v "$componentize_py" >/dev/null 2>&1; then
  log "error: componentize-py not found at '$componentize_py'"
  exit 1
fi
version="$("$componentize_py" --version 2>/dev/null || true)"
case "$version" in
  *" $COMPONENTIZE_PY_VERSION") ;;
  *) log "warning: $componentize_py is '${version:-unknown}', built and tested with $COMPONENTIZE_PY_VERSION" ;;
esac

# No __pycache__ in the source tree, from the tests or the build.
export PYTHONDONTWRITEBYTECODE=1

log "unit tests"
COMPONENTIZE_PY="$componentize_py" python3 -m unittest discover -s "$here/tests" </dev/null

log "componentize -> $out"
mkdir -p "$(dirname "$out")"
# The sources are staged in a temporary directory, which is the only Python
# path: componentize-py writes nothing into the source tree, and nothing from
# the caller's virtualenv or site-packages ends up in the component.
stage="$(mktemp -d "${TMPDIR:-/tmp}/omni-line-build.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp "$here/app.py" "$stage/"
mkdir "$stage/omni_line"
cp "$here"/omni_line/*.py "$stage/omni_line/"
(
  cd "$stage"
  unset VIRTUAL_ENV
  "$componentize_py" -d "$repo/plugin-sdk/wit" -w channel componentize -p "$stage" app -o "$out" </dev/null
)
log "built $out ($(wc -c <"$out" | tr -d ' ') bytes)"
