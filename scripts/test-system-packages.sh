#!/usr/bin/env bash
# System packages some tests need beyond Node and npm: real etcd members
# for the oracle's etcd backend (Debian's etcd-server), nftables for network
# partitions, openssl for the TLS tests' throwaway certificates, and
# Chromium to render the benchmark's HTML report. `npm test` runs this
# first: as root on Debian it installs what is missing; elsewhere it says
# what to install, and the tests that need it fail naming it.
set -euo pipefail
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v nft >/dev/null || need+=(nftables)
command -v openssl >/dev/null || need+=(openssl)
command -v "${CHROMIUM_BIN:-chromium}" >/dev/null || need+=(chromium)
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: some tests need ${need[*]} (Debian package names); install them, or run npm test as root on Debian to have them installed" >&2
  exit 0
fi
echo "installing ${need[*]} for the tests (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The packages' own services are not wanted: the tests start their own etcd members.
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
