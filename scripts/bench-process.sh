#!/usr/bin/env bash
# Benchmarks `seqfix process` against the same pass written as plain set-based SQL
# (sql/bench/process_reference.sql), side by side on a private throw-away MariaDB server:
# two identical databases of generated contacts, one for each.
#
#   scripts/bench-process.sh [CONTACTS] [-- extra seqfix process arguments]   default 100000
#
# Everything lives under target/bench-process; the system MariaDB service is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust
ensure_mariadb_binaries

contacts=100000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then contacts=$1; shift; fi
[ "${1:-}" = "--" ] && shift

cargo build --release --locked --quiet --bin seqfix --example contacts

dir=$PWD/target/bench-process
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd); [ -x "$mariadbd" ] || mariadbd=/usr/sbin/mysqld
install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then kill "$(cat "$dir/pid")"; sleep 2; fi
rm -rf "$dir"; mkdir -p "$dir/tmp"
user_arg=(); [ "$(id -u)" -eq 0 ] && user_arg=(--user=root)
"$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db "${user_arg[@]}" >"$dir/install.log" 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 33307)
"$mariadbd" --no-defaults --datadir="$dir/data" --socket="$dir/sock" --pid-file="$dir/pid" --tmpdir="$dir/tmp" \
  --log-error="$dir/error.log" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 "${user_arg[@]}" \
  </dev/null >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; true' EXIT
for _ in $(seq 1 300); do [ -S "$dir/sock" ] && break; sleep 0.2; done
[ -S "$dir/sock" ] || { echo "seqfix: the benchmark server did not start; see $dir/error.log" >&2; exit 2; }

client=$(command -v mariadb || command -v mysql)
sql() { "$client" --no-defaults --socket="$dir/sock" -uroot "$@"; }
for db in ref tool; do
  sql -e "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  ./target/release/examples/contacts "mysql://root@127.0.0.1:$port/$db" "$contacts"
  sql "$db" -e "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)"
done

now() { date +%s.%N; }
t0=$(now); sql ref <sql/bench/process_reference.sql; t1=$(now)
ref=$(echo "$t1 - $t0" | bc)
t0=$(now)
./target/release/seqfix --database-url "mysql://root@127.0.0.1:$port/tool" --format json process "$@" >"$dir/report.json"
t1=$(now)
tool=$(echo "$t1 - $t0" | bc)
count() { sql "$1" -N -e "SELECT (SELECT COUNT(*) FROM broadcast_messages), (SELECT COUNT(*) FROM sequence_logs), (SELECT COUNT(*) FROM sequence_contacts WHERE status = 'completed')"; }
echo "contacts: $contacts"
echo "plain SQL reference: ${ref}s   messages/logs/completed: $(count ref)"
echo "seqfix process:      ${tool}s   messages/logs/completed: $(count tool)"
echo "ratio: $(echo "scale=2; $tool / $ref" | bc)"
cat "$dir/report.json"
