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
