#!/usr/bin/env bash
# The generated cmboot.1 renders with groff without a single warning, and man reads it.
# usage: man-render.sh CMBOOT.1
set -euo pipefail
page=$1
[ -s "$page" ] || { echo "man-render: $page missing (scdoc; CMBOOT_MAN)" >&2; exit 1; }
command -v groff >/dev/null || { echo "man-render: groff not installed" >&2; exit 1; }
warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$warn" ] || { echo "man-render: groff warnings:" >&2; echo "$warn" >&2; exit 1; }
text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | col -b)
for want in NAME SYNOPSIS "EXIT STATUS" "--next-stage-timeout" "--version"; do
  grep -qF -- "$want" <<<"$text" || { echo "man-render: '$want' missing from the rendered page" >&2; exit 1; }
done
echo "man-render: $page renders cleanly ($(wc -l <<<"$text") lines)"
