#!/usr/bin/env bash
# Installs the .deb on a clean Debian system and checks it there: a minimal Debian root
# (debootstrap, from the mirror this machine's apt sources already name; the machine's own
# release, e.g. bookworm), with only man-db and systemd added, copied fresh for every run.
# Inside it: `apt-get install ./seqfix_*.deb`, `seqfix --version`, `man -w`, the completion
# files, `systemd-analyze verify` on the units (installed, not enabled), `seqfix audit`
# against a private MariaDB server that this script starts on the host's loopback, the same
# as the seqfix user through the example option file, and `apt-get purge`.
#
#   scripts/package-test.sh          builds the package (scripts/package.sh) first
#   SEQFIX_DEB=FILE scripts/package-test.sh
#
# The clean root is cached in target/package-test/base (about 300 MB; the first run spends
# about a minute on debootstrap); each run works in a copy, target/package-test/run. Needs
# root (debootstrap and chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
t0=$(date +%s)
step() { echo "seqfix: [$(($(date +%s) - t0)) s] $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
  echo "seqfix: the clean-system test needs root (debootstrap and chroot)" >&2
  exit 2
fi
ensure_rust
ensure_openssl_cli

work=$PWD/target/package-test
base=$work/base
run=$work/run
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
case $suite in bookworm | trixie | forky | sid) ;; *) suite=bookworm ;; esac

if [ -n "${SEQFIX_DEB:-}" ]; then
  deb=$SEQFIX_DEB
else
  step "building the package"
  scripts/package.sh
  deb=$(ls target/dist/seqfix_*.deb)
fi
step "building the sample data generator"
# The dev profile: a dist build of an example would rebuild the dist library with the
# dev-dependencies' features, and the next package.sh would rebuild it back.
cargo build --locked --example sample
sample=target/debug/examples/sample

if [ ! -f "$base/.seqfix-ready" ]; then
  step "making a clean Debian $suite root (once)"
  debootstrap_root "$base.partial" "$suite" "$work/base.log"
  DEBIAN_FRONTEND=noninteractive chroot "$base.partial" apt-get install -y -qq --no-install-recommends \
    man-db systemd >>"$work/base.log" 2>&1 ||
    { echo "seqfix: installing man-db and systemd in the root failed; see $work/base.log" >&2; exit 2; }
  chroot "$base.partial" apt-get clean
  echo "$suite" >"$base.partial/.seqfix-ready"
  rm -rf "$base"
  mv "$base.partial" "$base"
fi

step "copying the clean root"
umount "$run/proc" 2>/dev/null || true
rm -rf "$run"
cp -a "$base" "$run"
mount -t proc proc "$run/proc"
dir=$work/server
server_pid=
cleanup() {
  umount "$run/proc" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  true
}
trap cleanup EXIT
in_root() { chroot "$run" "$@"; }
fail() { echo "seqfix: package test FAILED: $*" >&2; exit 1; }

step "apt-get install ./$(basename "$deb")"
cp "$deb" "$run/tmp/"
DEBIAN_FRONTEND=noninteractive in_root sh -c "cd /tmp && apt-get install -y -qq ./$(basename "$deb")" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "apt-get install"; }

step "checks inside the root"
version=$(in_root seqfix --version) || fail "seqfix --version"
echo "$version" >&2
[[ $version == "seqfix "*" (commit "*", TLS rustls"* ]] || fail "seqfix --version: $version"
in_root man -w seqfix | grep -q '/usr/share/man/man1/seqfix.1.gz' || fail "man -w seqfix"
in_root man -w seqfix-audit >/dev/null || fail "man -w seqfix-audit"
for f in /usr/share/bash-completion/completions/seqfix /usr/share/zsh/vendor-completions/_seqfix \
  /usr/share/fish/vendor_completions.d/seqfix.fish /usr/share/doc/seqfix/my.cnf.example \
  /usr/share/doc/seqfix/usage.md /usr/share/doc/seqfix/copyright; do
  [ -s "$run$f" ] || fail "$f is missing"
done
in_root systemd-analyze verify /lib/systemd/system/seqfix-process.service /lib/systemd/system/seqfix-process.timer ||
  fail "systemd-analyze verify"
[ "$(in_root systemctl is-enabled seqfix-process.timer 2>/dev/null || true)" = disabled ] ||
  fail "seqfix-process.timer should be installed disabled"
in_root getent passwd seqfix >/dev/null || fail "the package made no seqfix user"
# Nothing but the C library: the root has no OpenSSL, and the binary must not want it.
if in_root ldd /usr/bin/seqfix | grep -E 'libssl|libcrypto|not found'; then fail "ldd /usr/bin/seqfix"; fi

step "starting a private MariaDB server on the host's loopback, TLS with a CA of its own"
# The root has no CA certificates and no OpenSSL: VERIFY_IDENTITY must work with ssl-ca alone.
certs=$work/certs
rm -rf "$certs"; mkdir -p "$certs"
(
  cd "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=seqfix package test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
) >"$work/certs.log" 2>&1 || { cat "$work/certs.log" >&2; fail "making the test certificates (openssl)"; }
cp "$certs/ca.pem" "$run/tmp/db-ca.pem"
port=$(free_port)
start_private_mariadb "$dir" "$port" --ssl-ca="$certs/ca.pem" --ssl-cert="$certs/server.pem" \
  --ssl-key="$certs/server.key" --require-secure-transport=ON
client=("$(command -v mariadb || command -v mysql)" --no-defaults --socket="$dir/sock" -uroot)
"${client[@]}" -e "
  CREATE DATABASE pkg CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  CREATE USER 'seqfix'@'%' IDENTIFIED BY 'pkg-test';
  GRANT ALL ON pkg.* TO 'seqfix'@'%';"
# The generator connects without TLS: through the socket (any host part is ignored there).
"$sample" "mysql://seqfix:pkg-test@localhost/pkg?socket=$dir/sock" 20000 >/dev/null ||
  fail "loading the sample data"
url="mysql://seqfix:pkg-test@127.0.0.1:$port/pkg?ssl-mode=VERIFY_IDENTITY&ssl-ca=/tmp/db-ca.pem"

step "seqfix audit from inside the root"
in_root seqfix --no-progress --database-url "$url" audit --format json >"$work/audit.json" || fail "seqfix audit"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["surplus_rows"] > 0, j; print("seqfix: audit found", j["surplus_rows"], "surplus rows")' \
  "$work/audit.json" >&2 || fail "the audit's JSON"
# As the service would: the seqfix user, the option file installed as the example says.
in_root install -m 0600 -o seqfix -g seqfix /usr/share/doc/seqfix/my.cnf.example /etc/seqfix/my.cnf
in_root sed -i -e "s/^password .*/password = pkg-test/" -e "s/^host .*/host = 127.0.0.1/" \
  -e "s/^port .*/port = $port/" -e "s/^database .*/database = pkg/" \
  -e "s|^# ssl-mode .*|ssl-mode = VERIFY_IDENTITY|" -e "s|^# ssl-ca .*|ssl-ca = /tmp/db-ca.pem|" /etc/seqfix/my.cnf
in_root setpriv --reuid=seqfix --regid=seqfix --clear-groups \
  seqfix --no-progress --defaults-file /etc/seqfix/my.cnf audit >/dev/null || fail "audit as seqfix with /etc/seqfix/my.cnf"

step "apt-get purge seqfix"
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -qq seqfix >>"$work/install.log" 2>&1 || fail "apt-get purge"
[ ! -e "$run/usr/bin/seqfix" ] || fail "/usr/bin/seqfix is still there after purge"

step "package test passed"
