#!/usr/bin/env bash
# Starts a private, throw-away MariaDB server, loads sample data with duplicate sequence
# messages (the production schema, about 8% surplus rows), and runs `seqfix audit` on it.
#
#   scripts/sandbox.sh [ROWS] [-- seqfix arguments...]     default: 100000 rows, `audit`
#   SANDBOX_KEEP=1 scripts/sandbox.sh                       leave the server running
#
# Everything lives under target/sandbox; the system MariaDB service is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust
ensure_mariadb_binaries

rows=100000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rows=$1; shift; fi
[ "${1:-}" = "--" ] && shift
cmd=("$@"); [ ${#cmd[@]} -eq 0 ] && cmd=(audit)

cargo build --release --locked --quiet --bin seqfix --example sample

dir=$PWD/target/sandbox
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd); [ -x "$mariadbd" ] || mariadbd=/usr/sbin/mysqld
install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then kill "$(cat "$dir/pid")"; sleep 2; fi
rm -rf "$dir"; mkdir -p "$dir/tmp"
user_arg=(); [ "$(id -u)" -eq 0 ] && user_arg=(--user=root)
"$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db "${user_arg[@]}" >"$dir/install.log" 2>&1
# Its own tmpdir: a starting mariadbd deletes every #sql* file in its tmpdir, which in a
# shared /tmp would include the live temporary tables of any other server on this machine.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 33306)
"$mariadbd" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/sock" --pid-file="$dir/pid" \
  --log-error="$dir/error.log" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 "${user_arg[@]}" \
  </dev/null >/dev/null 2>&1 &
server=$!
stop() { [ -z "${SANDBOX_KEEP:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; true; }
trap stop EXIT
for _ in $(seq 1 300); do [ -S "$dir/sock" ] && break; sleep 0.2; done
[ -S "$dir/sock" ] || { echo "seqfix: the sandbox server did not start; see $dir/error.log" >&2; exit 2; }

client=$(command -v mariadb || command -v mysql)
"$client" --no-defaults --socket="$dir/sock" -uroot -e "
  CREATE DATABASE sandbox CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  CREATE USER 'seqfix'@'%' IDENTIFIED BY 'sandbox';
  GRANT ALL ON *.* TO 'seqfix'@'%';"
export DATABASE_URL="mysql://seqfix:sandbox@127.0.0.1:$port/sandbox"
./target/release/examples/sample "$DATABASE_URL" "$rows"
echo "+ seqfix ${cmd[*]}   (DATABASE_URL=$DATABASE_URL)" >&2
status=0
./target/release/seqfix "${cmd[@]}" || status=$?
if [ -n "${SANDBOX_KEEP:-}" ]; then
  echo "sandbox server left running (pid $server): export DATABASE_URL=$DATABASE_URL" >&2
fi
exit $status
