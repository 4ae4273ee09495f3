#!/usr/bin/env bash
# Starts a private, throw-away server, loads sample data with duplicate sequence messages
# (the production schema, about 8% surplus rows), and runs `seqfix audit` on it.
#
#   scripts/sandbox.sh [--mysql] [ROWS] [-- seqfix arguments...]   default: MariaDB, 100000 rows, `audit`
#   SANDBOX_KEEP=1 scripts/sandbox.sh                               leave the server running
#   SANDBOX_RESET=1 scripts/sandbox.sh                              replace a sandbox left running
#   SANDBOX_COLLATION=utf8mb4_0900_ai_ci scripts/sandbox.sh --mysql the sample database's collation
#
# --mysql starts Oracle MySQL instead of MariaDB, from the root scripts/mysql-server.sh builds
# (needs root). Everything lives under target/; the system MariaDB service is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust

flavor=mariadb
if [ "${1:-}" = "--mysql" ]; then flavor=mysql; shift; fi
rows=100000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rows=$1; shift; fi
[ "${1:-}" = "--" ] && shift
cmd=("$@"); [ ${#cmd[@]} -eq 0 ] && cmd=(audit)
collation=${SANDBOX_COLLATION:-utf8mb4_unicode_ci}
case $collation in *[!A-Za-z0-9_]*) echo "seqfix: SANDBOX_COLLATION must be a collation name" >&2; exit 2 ;; esac

[ $flavor = mariadb ] && ensure_mariadb_binaries
echo "seqfix: building seqfix (release; a few minutes the first time)" >&2
cargo build --release --locked --bin seqfix --example sample
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 33306)

# Both servers get their own tmpdir: a starting mariadbd deletes every #sql* file in its
# tmpdir, which in a shared /tmp would include the live temporary tables of other servers.
fresh_dir() {
  if [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; then
    if [ -z "${SANDBOX_RESET:-}" ]; then
      echo "seqfix: a sandbox server is still running (pid $(cat "$1/pid"), left by SANDBOX_KEEP=1) with its data;" \
        "stop it with 'kill $(cat "$1/pid")', or run with SANDBOX_RESET=1 to replace it" >&2
      exit 2
    fi
    kill "$(cat "$1/pid")"; sleep 2
  fi
  rm -rf "$1"; mkdir -p "$1/tmp"
}

if [ $flavor = mysql ]; then
  root=$(scripts/mysql-server.sh)
  dir=$root/srv/sandbox       # /srv/sandbox as the server, inside the root, sees it
  fresh_dir "$dir"
  chroot "$root" /usr/sbin/mysqld --no-defaults --initialize-insecure --user=root --datadir=/srv/sandbox/data \
    >"$dir/install.log" 2>&1
  chroot "$root" /usr/sbin/mysqld --no-defaults --user=root --datadir=/srv/sandbox/data --tmpdir=/srv/sandbox/tmp \
    --socket=/srv/sandbox/sock --pid-file=/srv/sandbox/pid --log-error=/srv/sandbox/error.log --port="$port" \
    --bind-address=127.0.0.1 --skip-name-resolve --mysqlx=OFF --innodb-buffer-pool-size=512M \
    --innodb-flush-log-at-trx-commit=2 </dev/null >/dev/null 2>&1 &
  server=$!
  client=(chroot "$root" mysql --no-defaults --socket=/srv/sandbox/sock -uroot)
else
  dir=$PWD/target/sandbox
  fresh_dir "$dir"
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd); [ -x "$mariadbd" ] || mariadbd=/usr/sbin/mysqld
  install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
  user_arg=(); [ "$(id -u)" -eq 0 ] && user_arg=(--user=root)
  "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db \
    "${user_arg[@]}" >"$dir/install.log" 2>&1
  "$mariadbd" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/sock" --pid-file="$dir/pid" \
    --log-error="$dir/error.log" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 "${user_arg[@]}" \
    </dev/null >/dev/null 2>&1 &
  server=$!
  client=("$(command -v mariadb || command -v mysql)" --no-defaults --socket="$dir/sock" -uroot)
fi
stop() { [ -z "${SANDBOX_KEEP:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; true; }
trap stop EXIT
for _ in $(seq 1 300); do [ -S "$dir/sock" ] && break; sleep 0.2; done
[ -S "$dir/sock" ] || { echo "seqfix: the sandbox server did not start; see $dir/error.log" >&2; exit 2; }

"${client[@]}" -e "
  CREATE DATABASE sandbox CHARACTER SET utf8mb4 COLLATE $collation;
  CREATE USER 'seqfix'@'%' IDENTIFIED BY 'sandbox';
  GRANT ALL ON *.* TO 'seqfix'@'%';"
export DATABASE_URL="mysql://seqfix:sandbox@127.0.0.1:$port/sandbox"
./target/release/examples/sample "$DATABASE_URL" "$rows"
if [ -n "${SANDBOX_COLLATION:-}" ]; then
  # The sample's columns say utf8mb4_unicode_ci, as production's do: convert them all.
  for t in $("${client[@]}" -N -e "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sandbox'"); do
    "${client[@]}" -e "ALTER TABLE sandbox.\`$t\` CONVERT TO CHARACTER SET utf8mb4 COLLATE $collation"
  done
fi
echo "+ seqfix ${cmd[*]}   (DATABASE_URL=$DATABASE_URL)" >&2
status=0
./target/release/seqfix "${cmd[@]}" || status=$?
if [ -n "${SANDBOX_KEEP:-}" ]; then
  cat >&2 <<EOF
sandbox server left running (pid $server). Try, in order:
  export DATABASE_URL='$DATABASE_URL'
  ./target/release/seqfix dedupe --dry-run     # what would be deleted, and which copy is kept
  ./target/release/seqfix dedupe               # delete the surplus copies (archived; asks first)
  ./target/release/seqfix migrate              # add the unique index
  ./target/release/seqfix process              # queue the due contacts' next steps
  ./target/release/seqfix status               # is everything healthy?
Stop it with: kill $server
EOF
else
  echo "seqfix: the sandbox server is stopped; SANDBOX_KEEP=1 keeps it running to try dedupe, migrate and process" >&2
fi
exit $status
