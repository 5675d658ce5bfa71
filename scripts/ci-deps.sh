#!/usr/bin/env bash
# Installs what the browser and MDT-client tests drive: Debian's Chromium (tests/page.rs) and Node.js
# (tests/mdt.rs). Prints the env that makes those tests mandatory for each tool present afterwards; a tool
# that cannot be installed leaves its tests printing SKIPPED (they never pass silently as if they had run).
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if ((${#need[@]})); then
  SUDO=; [[ $(id -u) != 0 ]] && command -v sudo >/dev/null && SUDO=sudo
  if command -v apt-get >/dev/null; then
    ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}") >&2 \
      || echo "ci-deps: could not install ${need[*]}; their tests will print SKIPPED" >&2
  fi
fi
command -v chromium >/dev/null 2>&1 && echo "export EDNA_REQUIRE_BROWSER=1"
command -v node >/dev/null 2>&1 && echo "export EDNA_REQUIRE_NODE=1"
exit 0
