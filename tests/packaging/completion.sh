#!/usr/bin/env bash
# Sources the bash completion and checks what it offers for subcommands and options; then a zsh compinit
# smoke test of _cmboot when zsh is installed.
# usage: completion.sh CMBOOT_BUILD_DIR COMPLETION_DIR
set -euo pipefail
bindir=$1 compdir=$2
export PATH="$bindir:$PATH"
[ -x "$bindir/cmboot" ] || { echo "completion: no cmboot in $bindir" >&2; exit 1; }
# shellcheck source=/dev/null  # the completion dir is an argument
. "$compdir/cmboot.bash"
fail=0
# complete WORDS...: the last word is the one being completed; prints COMPREPLY sorted, one a line
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _cmboot
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
expect() { # expect "WORDS" "EXPECTED (space separated, sorted)"
  local got
  read -r -a w <<<"$1"
  [[ $1 == *' ' ]] && w+=("")
  got=$(complete_words "${w[@]}" | tr '\n' ' ' | sed 's/ $//')
  if [ "$got" != "$2" ]; then
    echo "completion: '$1<TAB>' gave '$got', expected '$2'" >&2
    fail=1
  fi
}
expect "cmboot fl" "flash"
expect "cmboot flash --vi" "--via"
expect "cmboot flash --repo" "--report --report-dir"
expect "cmboot write --cr" "--create"
expect "cmboot list --w" "--wait"
expect "cmboot doctor --ker" "--kernel-config"
expect "cmboot power " "cycle off on"
expect "cmboot mode n" "normal"
expect "cmboot flash --via f" "fastboot"
expect "cmboot --vers" "--version"
expect "cmboot p" "power"
expect "cmboot rec" "records"
# every command's completion offers --version (issue 14: --version on every subcommand)
for sub in boot list doctor flash write records power mode; do
  expect "cmboot $sub --versio" "--version"
done
if command -v zsh >/dev/null; then
  # compinit finds _cmboot on fpath and binds it to cmboot: the file parses and declares #compdef cmboot
  out=$(ZDOTDIR=/nonexistent zsh -f -c "fpath=('$compdir' \$fpath); autoload -Uz compinit; compinit -u -D; print -r -- \${_comps[cmboot]}" 2>&1)
  [ "$out" = "_cmboot" ] || { echo "completion: zsh compinit did not bind _cmboot: '$out'" >&2; fail=1; }
  zsh -n "$compdir/_cmboot" || { echo "completion: _cmboot does not parse" >&2; fail=1; }
else
  echo "completion: zsh not installed: zsh smoke test not run (bash checked)" >&2
fi
[ "$fail" -eq 0 ] && echo "completion: bash completions as expected"
exit "$fail"
