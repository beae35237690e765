#!/usr/bin/env bash
# Installs the Debian 12 packages cicd-anomaly needs to build, test and run
# its demo. Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  # libraries (shared/TOOLCHAIN.md)
  prometheus-cpp-dev libcivetweb-dev libcpp-httplib-dev libboost-json1.81-dev libboost1.81-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libssl-dev zlib1g-dev
  # real peers for integration tests and the demo
  prometheus prometheus-alertmanager curl python3 chromium
  # compose file validation (tests/integration/compose_test.sh)
  docker-compose python3-yaml
  # self-signed certificates for the TLS test
  openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm type-check the Grafana dashboards (tests/dashboards). The
# machines come with Node.js; Debian's packages only when it is missing.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

root=$(cd "$(dirname "$0")/.." && pwd)
# npm packages pinned by tests/dashboards/package-lock.json; reinstalled only
# when the lock file changed.
install_npm() {
  local dir=$root/tests/dashboards
  if [[ -f $dir/node_modules/.package-lock.json && $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]]; then
    return 0
  fi
  echo "install-deps: npm ci in tests/dashboards"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
}

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  install_npm
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
# The prometheus packages would start system services listening on every
# interface; the project runs its own instances on 127.0.0.1. A temporary
# policy-rc.d keeps apt from starting any service during this install.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  added_policy=1
fi
remove_policy() { if ((added_policy)); then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap remove_policy EXIT
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm
