#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run lint, types, the full
# suite on Python 3.11, and the version matrix: both framework tiers against the oldest
# supported release of each framework on Python 3.10 and the newest on 3.13 (noxfile.py,
# session "matrix"; the pins are its FRAMEWORKS; RAIS_MATRIX_FULL=1 crosses every pair).
#
# Usage: scripts/test.sh [pytest args...]     the args go to the Python 3.11 run
#   RAIS_SKIP_MATRIX=1 scripts/test.sh        leave the matrix out (it says so; CI never does)
#   RAIS_PYTHON_3_10=/path/to/python3.10 ...  use that interpreter for a matrix Python
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))" >&2; }
die() {
  printf '\nscripts/test.sh: error: %s\n' "$*" >&2
  exit 1
}

# --- System packages: redis-server (resumable streams), Chromium and its driver (browsers),
# nginx (tests/deploy runs docs/deploy/nginx.conf).
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)  # docs/deploy
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  apt_get() {
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"
  }
  # A failed update (one unreachable mirror, a stale list) is no reason to stop: the install
  # below may still find everything. Only a failed install is.
  for try in 1 2 3; do
    apt_get update -qq && break
    echo "apt-get update failed (try $try of 3); going on" >&2
    sleep $((try * 5))
  done
  if ! apt_get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null; then
    echo "apt-get install failed; updating the lists once more and retrying" >&2
    apt_get update -qq || true
    apt_get install -y -qq --no-install-recommends --fix-missing "${need_apt[@]}" >/dev/null ||
      die "could not install ${need_apt[*]} with apt-get"
  fi
fi

# --- Interpreters. find_python X.Y prints the path of a working Python X.Y: the one named by
# RAIS_PYTHON_X_Y, else pyenv's newest X.Y.*, else pythonX.Y on PATH (pyenv shims of a version
# that is not active fail the check and are passed over).
is_python() { [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$2" ]; }
find_python() {
  local want=$1 var="RAIS_PYTHON_${1//./_}" root candidate
  if [ -n "${!var:-}" ]; then
    is_python "${!var}" "$want" || die "$var=${!var} is not a working Python $want"
    echo "${!var}"
    return
  fi
  local roots=()
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv")
  for root in "${roots[@]}"; do
    [ -n "$root" ] && [ -d "$root/versions" ] || continue
    while IFS= read -r candidate; do
      if is_python "$candidate" "$want"; then
        echo "$candidate"
        return
      fi
    done < <(find "$root/versions" -maxdepth 3 -path "*/versions/$want.*/bin/python$want" \
      2>/dev/null | sort -rV)
  done
  for candidate in "$(command -v "python$want" 2>/dev/null)" "/usr/local/bin/python$want" \
    "/usr/bin/python$want"; do
    if [ -n "$candidate" ] && is_python "$candidate" "$want"; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

# --- The Python 3.11 venv: lint, types and the full suite.
if [ ! -x .venv/bin/python ]; then
  python="${PYTHON:-}"
  if [ -z "$python" ]; then
    python=$(find_python 3.11) || die "Python 3.11 not found (pyenv install 3.11, or set PYTHON)"
  fi
  step "python -m venv .venv ($python)"
  "$python" -m venv .venv
fi
step "pip install -e '.[dev]'"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

step "ruff, mypy, lint-imports"
.venv/bin/ruff check src tests integrations examples bench noxfile.py
.venv/bin/ruff format --check src noxfile.py
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers and no-cycle contracts in pyproject.toml

step "mkdocs build --strict (the docs site: broken links and anchors fail; no network)"
site_dir=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$site_dir"
rm -rf "$site_dir"

step "pytest (Python 3.11, the full suite)"
suite_status=0
.venv/bin/python -m pytest -q "$@" || suite_status=$?

# --- The version matrix (noxfile.py): one venv per Python x end of the range, suite once each.
matrix_status=0
if [ "${RAIS_SKIP_MATRIX:-}" = 1 ]; then
  printf '\n*** RAIS_SKIP_MATRIX=1: the version matrix (Python 3.10/3.13 x oldest/newest) did NOT run ***\n' >&2
else
  matrix_pythons=()
  read -r -a matrix_pythons < <(.venv/bin/python -c 'import noxfile; print(*noxfile.MATRIX_PYTHONS)') || true
  [ ${#matrix_pythons[@]} -gt 0 ] || die "could not read MATRIX_PYTHONS from noxfile.py"
  pydir=.nox/pythons
  mkdir -p "$pydir"
  for version in "${matrix_pythons[@]}"; do
    found=$(find_python "$version") ||
      die "Python $version (a matrix Python) not found: pyenv install $version, or set RAIS_PYTHON_${version//./_}"
    ln -sfn "$found" "$pydir/python$version"
    echo "matrix Python $version: $found" >&2
  done
  step "nox -s matrix (${matrix_pythons[*]})"
  matrix_started=$SECONDS
  PATH="$PWD/$pydir:$PATH" .venv/bin/nox -s matrix --error-on-missing-interpreters ||
    matrix_status=$?
  echo "matrix: $((SECONDS - matrix_started)) s" >&2
fi

step "done"
[ "$suite_status" -eq 0 ] || die "the Python 3.11 suite failed (pytest exit $suite_status)"
[ "$matrix_status" -eq 0 ] || die "the version matrix failed (nox exit $matrix_status)"
