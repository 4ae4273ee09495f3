#!/usr/bin/env bash
# Runs the whole test suite twice: against a private, throw-away MariaDB server, then against
# a private Oracle MySQL server (scripts/mysql-server.sh builds it, once, under target/).
#
#   scripts/test.sh [--mariadb | --mysql] [cargo test arguments...]
#
# --mariadb or --mysql runs one of the two. With SEQFIX_TEST_DATABASE_URL set, the suite
# runs once, against that server. The tests start their own servers; this script only makes
# sure the binaries exist. The MariaDB pass includes the Galera cluster tests (tests/it/cluster.rs),
# which start a 3-node loopback cluster once (galera-4 and rsync are installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

servers=(mariadb mysql)
case "${1:-}" in
  --mariadb) servers=(mariadb); shift ;;
  --mysql) servers=(mysql); shift ;;
esac
[ -n "${SEQFIX_TEST_DATABASE_URL:-}" ] && servers=(external)

ensure_rust
ensure_openssl_cli
for server in "${servers[@]}"; do
  case $server in
    mariadb)
      ensure_mariadb_binaries
      ensure_galera_tools
      echo "seqfix: running the suite against MariaDB ($(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version))" >&2
      SEQFIX_TEST_SERVER=mariadb cargo test --locked "$@"
      ;;
    mysql)
      root=$(scripts/mysql-server.sh)
      echo "seqfix: running the suite against MySQL ($(cat "$root/.seqfix-ready"))" >&2
      SEQFIX_TEST_SERVER=mysql SEQFIX_MYSQL_ROOT=$root cargo test --locked "$@"
      ;;
    external)
      cargo test --locked "$@"
      ;;
  esac
done
