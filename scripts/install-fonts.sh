#!/usr/bin/env bash
# Installs the CJK TrueType font that parent letters embed: Debian's fonts-wqy-zenhei
# (WenQuanYi Zen Hei, GPL-2 with the font embedding exception). Letters use the face at
# index 0 of /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc unless LETTER_FONT_PATH names
# another TrueType font. `make install` and `make run` call this script.
set -euo pipefail
FONT="${LETTER_FONT_PATH:-/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc}"
if [ -e "$FONT" ]; then
  exit 0
fi
if [ "$FONT" != "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc" ]; then
  echo "LETTER_FONT_PATH=$FONT does not exist; install that font or unset the variable" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Parent letters need a CJK TrueType font: install WenQuanYi Zen Hei (fonts-wqy-zenhei)" >&2
  echo "or set LETTER_FONT_PATH to a TrueType CJK font." >&2
  exit 1
fi
echo "Installing fonts-wqy-zenhei (the font parent letters embed) from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
