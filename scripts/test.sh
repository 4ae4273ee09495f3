#!/usr/bin/env bash
# Runs the whole test suite. The tests start their own private, throw-away MariaDB server
# (or use SEQFIX_TEST_DATABASE_URL); this script only makes sure the binaries exist.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_rust
ensure_mariadb_binaries
exec cargo test --locked "$@"
