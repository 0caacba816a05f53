#!/usr/bin/env bash
# Install the Debian packages named on the command line when they are missing and we can
# (root with apt-get); otherwise say what is missing and what degrades. Never fails the build.
set -u
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
         || { apt-get update -q >/dev/null 2>&1 && \
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }; }; then
    echo "warning: could not install ${missing[*]}; the features that need them will say so and be skipped." >&2
  fi
else
  echo "note: Debian packages ${missing[*]} are not installed (run: sudo apt-get install ${missing[*]})." >&2
  echo "      The features that need them will say so and be skipped." >&2
fi
exit 0
