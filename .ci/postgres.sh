# Start and stop a throwaway PostgreSQL 15 on a free loopback port (sourced by .ci/run).
# PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged user.

pg_bin() {
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  return 1
}

start_postgres() {
  local bin
  if ! bin=$(pg_bin); then
    echo "installing PostgreSQL 15 (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    bin=$(pg_bin)
  fi
  PG_DIR=$(mktemp -d /tmp/eb-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local as=()
  if [ "$(id -u)" = 0 ]; then
    id ebci >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ebci
    chown ebci "$PG_DIR"
    as=(runuser -u ebci --)
  fi
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U bridge --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop)
  PG_URL="postgresql+psycopg://bridge@127.0.0.1:$PG_PORT/postgres"
  export PG_URL
  echo "PostgreSQL running on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
