#!/bin/sh
# Installs Samvirke from a checkout into PREFIX/venv with the pinned, hash-checked runtime
# dependencies (requirements.txt): what the Dockerfile runs, and what CI runs outside a
# container when podman cannot. Usage: deploy/install.sh SOURCE PREFIX
set -eu
source_dir="${1:?usage: install.sh SOURCE PREFIX}"
prefix="${2:?usage: install.sh SOURCE PREFIX}"
python3 -m venv "$prefix/venv"
"$prefix/venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet \
    --require-hashes -r "$source_dir/requirements.txt"
"$prefix/venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet \
    --no-deps "$source_dir"
"$prefix/venv/bin/samvirke" --help >/dev/null
