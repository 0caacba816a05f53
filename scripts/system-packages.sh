#!/usr/bin/env bash
# Install the Debian packages named on the command line when they are missing and we can
# (root with apt-get); otherwise say what is missing and what degrades. Never fails the build.
# Each package is installed on its own, so one that cannot be had does not block the others.
set -u
declare -A degrades=(
  [chromium]="no PDF handouts (HTML only); the browser tests are skipped"
  [fonts-noto-cjk]="Chinese shows as boxes in zh-TW PDFs (quiz build warns); the CJK font test is skipped"
)
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >/dev/null 2>&1
}
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  updated=0
  for pkg in "${missing[@]}"; do
    echo "Installing Debian package: $pkg"
    install "$pkg" && continue
    if ((!updated)); then  # a stale package list is the usual cause: refresh it once, then retry
      updated=1
      apt-get update -q >/dev/null 2>&1
      install "$pkg" && continue
    fi
    echo "warning: could not install $pkg: ${degrades[$pkg]:-the features that need it will say so and be skipped}." >&2
  done
else
  for pkg in "${missing[@]}"; do
    echo "note: Debian package $pkg is not installed (run: sudo apt-get install $pkg):" \
         "${degrades[$pkg]:-the features that need it will say so and be skipped}." >&2
  done
fi
exit 0
