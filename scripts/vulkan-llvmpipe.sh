#!/usr/bin/env bash
# A software Vulkan adapter (Mesa's llvmpipe) so that onnxruntime's WebGPU provider runs on a
# machine without a GPU: the WebGPU tests (test/runner/webgpu.test.ts) then check the runner on that
# provider rather than skipping. It checks correctness, not speed: llvmpipe runs shaders on the CPU.
#
# Dawn (the WebGPU implementation in onnxruntime-node) refuses Debian 12's Mesa 22.3 (it lacks
# shaderUniform*ArrayDynamicIndexing); Mesa 25 from bookworm-backports works. Installs it with apt
# when run as root on Debian 12 and the adapter is not there yet; otherwise says why not and exits 1.
# Idempotent: prints "ok" and exits 0 at once when a new enough Mesa is installed.
set -euo pipefail

installed_mesa() { dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null || true; }

new_enough() {
  local version
  version=$(installed_mesa)
  [ -n "$version" ] && [ "${version%%.*}" -ge 23 ] && [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ]
}

if new_enough; then
  echo "llvmpipe: Mesa $(installed_mesa) installed: ok"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
  echo "llvmpipe: needs root and apt-get to install Mesa's Vulkan drivers" >&2
  exit 1
fi
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" != bookworm ]; then
  echo "llvmpipe: written for Debian 12 (bookworm), this is '${codename:-unknown}': install mesa-vulkan-drivers >= 23 and libvulkan1 by hand" >&2
  exit 1
fi
sources=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d; then
  cat > "$sources" << 'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 > /dev/null
if new_enough; then
  echo "llvmpipe: Mesa $(installed_mesa) installed: ok"
else
  echo "llvmpipe: Mesa $(installed_mesa) installed, but not 23 or newer" >&2
  exit 1
fi
