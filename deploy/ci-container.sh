#!/usr/bin/env bash
# CI for deploy/Dockerfile, run by .ci/run from the repository root (as root).
#
# Container registries are not reachable from the CI machines, so the base image is made
# locally from Debian's packages (mmdebstrap into `podman import`) and tagged as the base the
# Dockerfile is built on, without pulling. The image is built with podman (chroot isolation:
# no OCI runtime needed for RUN steps). Then the image is tried: `samvirke --help`,
# `samvirke migrate` and `samvirke doctor` against a local stand-in Bot API, with
# `podman run` where the machine allows containers, else inside the image's file system with
# chroot (same files, same Python, same user id; the kernel's namespaces are what differ).
# Without podman, the Dockerfile's install step (deploy/install.sh) runs into a temporary
# folder instead and the same commands are tried there.
set -euo pipefail
log() { printf '[ci:container] %s\n' "$*" >&2; }
repo="$(pwd)"
base=localhost/samvirke-base:bookworm
image=localhost/samvirke:ci
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

try_commands() {  # $1: a command prefix that runs a program inside the image or install
    local -a run=("${@}")
    "${run[@]}" samvirke --help >/dev/null
    "${run[@]}" env SAMVIRKE_DATABASE_URL="sqlite+aiosqlite:////tmp/ci.db" samvirke migrate
    log "samvirke --help and samvirke migrate work"
    if [[ -x .venv/bin/python ]]; then  # the stand-in Bot API (tests/support) on loopback
        local token="123:CI-TOKEN" port
        port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        .venv/bin/python tests/support/botapi_server.py "$port" "$token" >/dev/null 2>&1 &
        local standin=$!
        sleep 2
        local out
        out="$("${run[@]}" env SAMVIRKE_DATABASE_URL="sqlite+aiosqlite:////tmp/ci.db" \
            SAMVIRKE_TELEGRAM_TOKEN="$token" SAMVIRKE_TELEGRAM_API_URL="http://127.0.0.1:$port" \
            SAMVIRKE_MAIL_DIR=/tmp/mail samvirke doctor || true)"
        kill "$standin" 2>/dev/null || true
        printf '%s\n' "$out" | sed 's/^/[ci:container]   /' >&2
        grep -q '^ok   bot api: token valid: @sv_bot' <<<"$out"
        grep -q '^ok   migrations: current' <<<"$out"
        log "samvirke doctor inside reaches the stand-in Bot API"
    fi
}

if [[ "$(id -u)" == 0 ]] && ! command -v podman >/dev/null; then
    log "installing podman and mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman mmdebstrap >/dev/null \
        || log "podman could not be installed"
fi

if command -v podman >/dev/null && command -v mmdebstrap >/dev/null; then
    if ! podman image exists "$base"; then
        log "making the base image from Debian's packages (mmdebstrap, ~2 min)"
        mmdebstrap --quiet --variant=minbase --mode=root bookworm "$work/base.tar"
        podman import --quiet "$work/base.tar" "$base" >/dev/null
        rm -f "$work/base.tar"
    fi
    log "building $image"
    podman build --quiet --isolation chroot --pull=never \
        --ulimit nofile=4096:4096 --ulimit nproc=1000:1000 \
        --secret "id=ca_bundle,src=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" \
        --build-arg "BASE=$base" -f deploy/Dockerfile -t "$image" . >/dev/null
    if out="$(podman run --rm --ulimit nofile=4096:4096 --ulimit nproc=1000:1000 \
        "$image" --help 2>&1)"; then
        try_commands podman run --rm --network host --entrypoint '' "$image"
    else
        log "podman cannot run containers here: ${out##*$'\n'}"
        log "trying the image's file system with chroot instead"
        root="$(podman image mount "$image")"  # read-only: a writable /tmp is bound over it
        mkdir -m 1777 "$work/tmp"
        mount --bind "$work/tmp" "$root/tmp"
        trap 'umount "$root/tmp" 2>/dev/null; podman image unmount "$image" >/dev/null 2>&1; rm -rf "$work"' EXIT
        try_commands chroot --userspec=10001:10001 "$root" \
            env PATH=/opt/samvirke/venv/bin:/usr/bin:/bin HOME=/tmp
    fi
else
    log "no podman here: running the Dockerfile's install step (deploy/install.sh) instead"
    sh deploy/install.sh "$repo" "$work/prefix"
    try_commands env PATH="$work/prefix/venv/bin:$PATH"
fi
