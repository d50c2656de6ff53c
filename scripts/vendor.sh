#!/usr/bin/env bash
# Refresh the vendored browser files from the npm registry at the pinned versions.
set -euo pipefail
HTMX=2.0.11
SIGPAD=5.1.4
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
cd "$tmp"
npm pack "htmx.org@$HTMX" "signature_pad@$SIGPAD" >/dev/null
mkdir h s
tar xzf "htmx.org-$HTMX.tgz" -C h
tar xzf "signature_pad-$SIGPAD.tgz" -C s
v="$here/portal/static/vendor"
cp h/package/dist/htmx.min.js h/package/LICENSE "$v/htmx/"
cp s/package/dist/signature_pad.umd.min.js s/package/LICENSE "$v/signature_pad/"
rm -rf "$tmp"
echo "vendored htmx.org@$HTMX and signature_pad@$SIGPAD"
