# Start and stop a throwaway PostgreSQL cluster for the test suite.
# Usage: source .ci/postgres.sh; start_postgres; ...; stop_postgres
# Exports ENROLLPAY_PG_URL for the tests.

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ]; then
    echo "PostgreSQL not found; installing it with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

start_postgres() {
  local bindir user port
  bindir=$(pg_bindir)
  user=$(id -un)
  PG_RUN=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: use the unprivileged postgres account.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    user=postgres
    PG_RUN=(runuser -u postgres --)
  fi
  PG_DIR=$(mktemp -d /tmp/enrollpay-pg.XXXXXX)
  chown "$user" "$PG_DIR"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  "${PG_RUN[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U "$user" --auth=trust -E UTF8 >/dev/null
  "${PG_RUN[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  PG_BINDIR=$bindir
  export ENROLLPAY_PG_URL="postgresql+psycopg://$user@127.0.0.1:$port/postgres"
  echo "PostgreSQL started on 127.0.0.1:$port ($ENROLLPAY_PG_URL)"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
