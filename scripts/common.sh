# Shared by scripts/sandbox.sh and scripts/test.sh: make sure the tools exist.

# Installs the MariaDB server package when no server binary is found. Only the binaries
# are needed: seqfix's tests and sandbox start their own private server, never the
# system service.
ensure_mariadb_binaries() {
  if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; then
    return 0
  fi
  echo "seqfix: MariaDB server binaries not found; installing the mariadb-server package" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "seqfix: run as root or install sudo, or install mariadb-server yourself" >&2; exit 2; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mariadb-server >/dev/null
}

# The Galera provider (package galera-4, a dependency of mariadb-server) and rsync, with which
# the cluster tests' nodes join their 3-node loopback cluster (rsync SST).
ensure_galera_tools() {
  local missing=()
  [ -f /usr/lib/galera/libgalera_smm.so ] || missing+=(galera-4)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "seqfix: installing ${missing[*]} (the Galera cluster tests need them)" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "seqfix: run as root or install sudo, or install ${missing[*]} yourself" >&2; exit 2; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "seqfix: cargo not found: install Rust with https://rustup.rs (curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh)" >&2
    exit 2
  fi
  # TLS is rustls (with ring), which needs a C compiler to build but no OpenSSL. Only a
  # `--no-default-features --features native-tls` build needs libssl-dev and pkg-config.
  if ! command -v cc >/dev/null 2>&1; then
    echo "seqfix: installing the C compiler needed to build (gcc)" >&2
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc libc6-dev >/dev/null
  fi
}

# The Debian mirror this machine's apt sources already name (the first http(s) archive that is
# not the security one), read at run time: none is ever written into the repository.
apt_mirror() {
  local mirror
  mirror=$(
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
      grep -v '^\s*#' | grep -oE 'https?://[^ ]+' | grep -v -- '-security' | grep -E '/debian/?$' | head -1 || true
  )
  if [ -z "$mirror" ]; then
    echo "seqfix: no Debian mirror found in /etc/apt/sources.list*; cannot build a Debian root" >&2
    exit 2
  fi
  echo "$mirror"
}

# debootstrap_root DIR SUITE LOG: a minimal Debian root (debootstrap --variant=minbase) of
# SUITE in DIR, from apt_mirror, in which no service may start (policy-rc.d), its apt lists
# fetched. Needs root. The caller mounts /proc when a package needs it.
debootstrap_root() {
  local dir=$1 suite=$2 log=$3 mirror
  mirror=$(apt_mirror)
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "seqfix: installing debootstrap" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  echo "seqfix: debootstrap $suite into $dir from $mirror" >&2
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$log" 2>&1 ||
    { echo "seqfix: debootstrap failed; see $log" >&2; exit 2; }
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  # A snapshot mirror's Release file may be past its Valid-Until date (sid's is).
  chroot "$dir" apt-get -o Acquire::Check-Valid-Until=false update -qq >>"$log" 2>&1 ||
    { echo "seqfix: apt-get update in $dir failed; see $log" >&2; exit 2; }
}

# start_private_mariadb DIR PORT [mariadbd arguments...]: a throw-away mariadbd with its data,
# socket and logs in DIR (created fresh), on 127.0.0.1:PORT, never the system service; sets
# $server_pid. The caller stops it (kill "$server_pid"). Returns when the socket answers.
start_private_mariadb() {
  local dir=$1 port=$2 mariadbd install_db user_arg=()
  shift 2
  ensure_mariadb_binaries
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd); [ -x "$mariadbd" ] || mariadbd=/usr/sbin/mysqld
  install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
  [ "$(id -u)" -eq 0 ] && user_arg=(--user=root)
  rm -rf "$dir"; mkdir -p "$dir/tmp"
  "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db \
    "${user_arg[@]}" >"$dir/install.log" 2>&1
  "$mariadbd" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/sock" --pid-file="$dir/pid" \
    --log-error="$dir/error.log" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 "${user_arg[@]}" "$@" \
    </dev/null >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do [ -S "$dir/sock" ] && return 0; sleep 0.2; done
  echo "seqfix: the private MariaDB server did not start; see $dir/error.log" >&2
  exit 2
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 33306
}

# The openssl command, with which the TLS tests and the package test make their own CA and
# server certificates (the seqfix binary itself uses rustls, not OpenSSL).
ensure_openssl_cli() {
  command -v openssl >/dev/null 2>&1 && return 0
  echo "seqfix: installing the openssl command (the tests make their own certificates with it)" >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >/dev/null
}
