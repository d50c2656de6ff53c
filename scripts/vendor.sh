#!/usr/bin/env bash
# Refresh the vendored browser files from the npm registry at the pinned versions.
set -euo pipefail
HTMX=2.0.11
SIGPAD=5.1.4
SORTABLE=1.15.7
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
cd "$tmp"
npm pack "htmx.org@$HTMX" "signature_pad@$SIGPAD" "sortablejs@$SORTABLE" >/dev/null
mkdir h s o
tar xzf "htmx.org-$HTMX.tgz" -C h
tar xzf "signature_pad-$SIGPAD.tgz" -C s
tar xzf "sortablejs-$SORTABLE.tgz" -C o
v="$here/portal/static/vendor"
cp h/package/dist/htmx.min.js h/package/LICENSE "$v/htmx/"
cp s/package/dist/signature_pad.umd.min.js s/package/LICENSE "$v/signature_pad/"
cp o/package/Sortable.min.js o/package/LICENSE "$v/sortablejs/"
rm -rf "$tmp"
echo "vendored htmx.org@$HTMX, signature_pad@$SIGPAD and sortablejs@$SORTABLE"
