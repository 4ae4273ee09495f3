#!/usr/bin/env bash
# Provides a real Oracle MySQL server for seqfix's tests and benchmarks on a Debian/Ubuntu
# machine whose own apt sources carry only MariaDB: a minimal Debian `sid` root made with
# debootstrap, from the mirror this machine's apt sources already name, with Debian's
# mysql-server-core package installed inside it. The servers themselves are started by the
# test harness (`chroot ROOT /usr/sbin/mysqld ...`), never as a service.
#
#   scripts/mysql-server.sh            build the root if needed; print its path
#
# The root is cached under target/mysql-root (about 800 MB): a second run returns at once.
# SEQFIX_MYSQL_ROOT=DIR uses another place. Needs root (debootstrap and chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

root=${SEQFIX_MYSQL_ROOT:-$PWD/target/mysql-root}
if [ -x "$root/usr/sbin/mysqld" ] && [ -f "$root/.seqfix-ready" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "seqfix: building the MySQL test root needs root (debootstrap and chroot); run as root or set SEQFIX_TEST_DATABASE_URL to a MySQL server" >&2
  exit 2
fi

start=$(date +%s)
echo "seqfix: building a MySQL test root in $root (about a minute, once)" >&2
r=$root.partial
debootstrap_root "$r" sid "$root.partial.log"
mount -t proc proc "$r/proc"
trap 'umount "$r/proc" 2>/dev/null || true' EXIT
DEBIAN_FRONTEND=noninteractive chroot "$r" apt-get install -y -qq --no-install-recommends \
  mysql-server-core mysql-client-core >>"$root.partial.log" 2>&1 ||
  { echo "seqfix: installing mysql-server-core in the root failed; see $root.partial.log" >&2; exit 2; }
chroot "$r" apt-get clean
umount "$r/proc"
trap - EXIT
# mysqld aborts without its secure-file-priv directory.
mkdir -p "$r/var/lib/mysql-files" "$r/srv"
chroot "$r" /usr/sbin/mysqld --version >"$r/.seqfix-ready"
rm -rf "$root"
mv "$r" "$root"
mv "$root.partial.log" "$root.log"
echo "seqfix: MySQL test root ready in $(($(date +%s) - start)) s: $(cat "$root/.seqfix-ready")" >&2
echo "$root"
