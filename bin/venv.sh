# Shared by bin/samvirke and bin/test (sourced, not run): make or update a virtual environment
# from a hash-checked lock file, with Samvirke installed into it by `pip install -e .`, so that
# the working tree is what runs and a new file imports at once.
#
# SAMVIRKE_PYTHON=/path/to/python picks the interpreter for a new environment (3.11 or newer).

say() { printf '%s: %s\n' "$me" "$*" >&2; }

sha() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi | cut -d' ' -f1
}

# A Python that is 3.11 or newer and can make virtual environments (pyenv shims of versions that
# are not installed fail to run, so each candidate is run, not only looked up).
find_python() {
    local candidate
    for candidate in ${SAMVIRKE_PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
                >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# ensure_venv FOLDER LOCK_FILE: the environment in FOLDER holds what LOCK_FILE pins and an
# editable install of the repository; redone only when the lock file or pyproject.toml changed.
ensure_venv() {
    local venv="$1" lock_file="$2" python stamp want
    [[ -f "$lock_file" ]] || { say "missing $lock_file"; exit 1; }
    mkdir -p "$venv"
    if command -v flock >/dev/null 2>&1; then
        # Two runs starting at once must not install into the same environment at the same time.
        exec 9>"$venv/.samvirke.lock"
        flock 9
    fi
    if ! { [[ -x "$venv/bin/python" ]] \
        && "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }; then
        python="$(find_python)" || {
            say "needs Python 3.11 or newer with the venv module (tried python3.13, python3.12, python3.11, python3); install one or set SAMVIRKE_PYTHON"
            exit 1
        }
        say "creating $venv with $("$python" -c 'import sys; print(sys.executable)')"
        rm -f "$venv/.samvirke.stamp"
        "$python" -m venv "$venv"
    fi
    # Keep the environment out of git and out of ruff's view without editing the top .gitignore.
    [[ -f "$venv/.gitignore" ]] || printf '*\n' >"$venv/.gitignore"
    stamp="$venv/.samvirke.stamp"
    want="$(cat "$lock_file" "$repo/pyproject.toml" | sha)"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
        local pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input --quiet)
        say "installing the locked dependencies ($(basename "$lock_file")) and samvirke"
        "${pip[@]}" install --require-hashes -r "$lock_file"
        "${pip[@]}" install --no-deps -e "$repo"
        printf '%s\n' "$want" >"$stamp"
    fi
    if command -v flock >/dev/null 2>&1; then
        exec 9>&-
    fi
}
