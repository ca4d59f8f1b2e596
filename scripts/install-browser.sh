#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests, and a CJK font so
# pages (and screenshots) show Chinese text. Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing ${need[*]} from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
