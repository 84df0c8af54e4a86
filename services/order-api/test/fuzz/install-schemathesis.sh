#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned in requirements.txt beside this file) into the git-ignored
# .cache/venv of the repo, for the order-api contract fuzz test. Safe to run again: a satisfied
# pin costs a second and no download. Used by .ci/run and, on first use, by the test itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
venv="$root/.cache/venv"

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q
    apt-get install -y -q python3 python3-venv
  else
    echo "python3 with venv is needed for the contract fuzz test: install python3 and python3-venv" >&2
    exit 1
  fi
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/schemathesis" --version
