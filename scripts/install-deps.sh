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
  prometheus prometheus-alertmanager curl python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
