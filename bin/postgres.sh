# Shared by bin/test and .ci/run (sourced, not run): a throwaway PostgreSQL server on loopback.
#
#   find_pg_bin                  prints the folder with initdb and pg_ctl, or fails
#   start_throwaway_postgres DIR  initdb into a new temporary folder (as the `postgres` user when
#                                run as root), start the server on a free 127.0.0.1 port, create
#                                the database `samvirke_test` and export SAMVIRKE_TEST_POSTGRES_URL;
#   stop_throwaway_postgres      stop it and remove its folder (call it from an EXIT trap).

pg_dir=""

find_pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

# initdb and postgres refuse to run as root: run them as the `postgres` user then.
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null && return 0
    local port
    for port in $(seq 54329 54399); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

start_throwaway_postgres() {  # start_throwaway_postgres PG_BIN_DIR
    local pg_bin="$1" port
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 \
            || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    fi
    pg_dir="$(mktemp -d)"
    chmod 755 "$pg_dir"
    mkdir "$pg_dir/data" "$pg_dir/socket"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres: "$pg_dir"
    fi
    port="$(free_port)"
    as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale=C \
        >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
    # Durability is not wanted for a throwaway test server; speed is.
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir/socket -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=100" >/dev/null \
        || { cat "$pg_dir/postgres.log" >&2; return 1; }
    as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres samvirke_test || return 1
    export SAMVIRKE_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/samvirke_test"
    pg_stop_bin="$pg_bin"
}

stop_throwaway_postgres() {
    [[ -n "$pg_dir" ]] || return 0
    if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
        as_pg "$pg_stop_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$pg_dir"
    pg_dir=""
}
