#!/usr/bin/env bash
# Installs the Debian 12 packages vigil needs to build, run and test, and the
# npm packages the tests drive browsers and WebSockets with. Idempotent: quiet
# when nothing is missing. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential pkg-config
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev libssl-dev libsrtp2-dev check
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x fonts-dejavu-core
  gstreamer1.0-plugins-base-apps
  libgstrtspserver-1.0-dev gstreamer1.0-rtsp
  libmosquitto-dev mosquitto mosquitto-clients libcoap3-dev libcoap3-bin
  valgrind clang libclang-rt-dev chromium docker-compose curl openssl ffmpeg prometheus
  systemd procps iproute2 nftables nats-server libnats-dev nginx-light
)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages for the integration and browser tests (tests/package.json).
if [ ! -d tests/node_modules/playwright-core ] || [ ! -d tests/node_modules/ws ] \
   || [ tests/package.json -nt tests/node_modules/.deps-stamp ]; then
  echo "deps: npm install in tests/"
  (cd tests && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch tests/node_modules/.deps-stamp
fi
