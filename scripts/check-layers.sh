#!/usr/bin/env bash
# Checks the library's layering on the sources (docs/architecture.md): every include of a src/ file is its own
# folder's, a public header, or an exported header (<folder>/include/) of a layer it DEPENDS on in
# src/CMakeLists.txt; and the protocol and fastboot layers, with every project header they pull in, include ISO C
# headers only.
# The emulator's parts (sim/CMakeLists.txt) by the same rule: sim/model includes no frontend and no src/ header.
#   scripts/check-layers.sh        (scripts/test.sh runs it; exit 1 with one line per violation)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Layers from the cmboot_layer() calls: name, folder, dependencies (a call may span lines).
declare -A layer_dir layer_deps dir_layer
calls=$(tr '\n' ' ' < src/CMakeLists.txt | grep -o 'cmboot_layer([a-z_]* [^)]*)' | grep -v 'cmboot_layer(name' || true)
[ -n "$calls" ] || { echo "check-layers: no cmboot_layer() calls in src/CMakeLists.txt" >&2; exit 1; }
while read -r call; do
  [ -n "$call" ] || continue
  read -r -a w <<< "${call#cmboot_layer(}"
  name=${w[0]} dir="" deps="" mode=""
  for t in "${w[@]:1}"; do
    t=${t%)}
    case $t in
      DIR|DEPENDS|USES|SOURCES) mode=$t ;;
      *) case $mode in DIR) dir=$t ;; DEPENDS) deps="$deps $t" ;; esac ;;
    esac
  done
  [ -d "src/$dir" ] || { echo "check-layers: layer $name: no folder src/$dir" >&2; exit 1; }
  layer_dir[$name]=$dir layer_deps[$name]=$deps dir_layer[$dir]=$name
done <<< "${calls//cmboot_layer(/$'\n'cmboot_layer(}"

# The include name a layer exports its headers under: "os/linux/uevent.h" for src/os/linux/include/os/linux/.
fail=0
bad() { echo "$1"; fail=1; }
quoted_includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
system_includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$1"; }
# Which layer a source file belongs to: the longest layer folder that holds it.
layer_of() {
  local f=$1 best="" d
  for d in "${!dir_layer[@]}"; do
    case $f in "src/$d/"*) [ ${#d} -gt ${#best} ] && best=$d ;; esac
  done
  [ -n "$best" ] && echo "${dir_layer[$best]}"
}

mapfile -t files < <(find src -name '*.[ch]' | sort)
for f in "${files[@]}"; do
  me=$(layer_of "$f") || { bad "$f: in no layer folder (add it to a cmboot_layer() in src/CMakeLists.txt)"; continue; }
  mapfile -t incs < <(quoted_includes "$f")
  for inc in "${incs[@]}"; do
    case $inc in
      cmboot/*) [ -f "include/$inc" ] || [ "$inc" = cmboot/version.h ] || bad "$f: $inc is no public header" ;;
      */*)
        ok=0
        for l in "$me" ${layer_deps[$me]}; do
          [ -f "src/${layer_dir[$l]}/include/$inc" ] && ok=1
        done
        if [ $ok = 0 ]; then
          owner=""
          for l in "${!layer_dir[@]}"; do [ -f "src/${layer_dir[$l]}/include/$inc" ] && owner=$l; done
          if [ -n "$owner" ]; then
            bad "$f: includes $inc of layer '$owner', which layer '$me' does not depend on"
          else
            bad "$f: includes $inc, which is no layer's exported header (private headers stay in their folder)"
          fi
        fi ;;
      *) [ -f "$(dirname "$f")/$inc" ] || bad "$f: includes \"$inc\", not in its own folder" ;;
    esac
  done
done

# The protocol layer does no I/O: ISO C headers only, through every project header it includes.
iso_c=" assert.h errno.h inttypes.h limits.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h "
declare -A seen
resolve() { # $1 including file, $2 quoted include -> path of the header
  local from=$1 inc=$2 l
  case $inc in
    cmboot/version.h) echo "include/cmboot/version.h.in"; return ;;
    cmboot/*) echo "include/$inc"; return ;;
  esac
  if [ -f "$(dirname "$from")/$inc" ]; then echo "$(dirname "$from")/$inc"; return; fi
  for l in "${!layer_dir[@]}"; do
    if [ -f "src/${layer_dir[$l]}/include/$inc" ]; then echo "src/${layer_dir[$l]}/include/$inc"; return; fi
  done
}
walk() { # $1 file, $2 the protocol file it was reached from
  local f=$1 root=$2 sys q h
  local -a syss qs
  [ -n "${seen[$f]:-}" ] && return
  seen[$f]=1
  mapfile -t syss < <(system_includes "$f")
  for sys in "${syss[@]}"; do
    [[ $iso_c == *" $sys "* ]] && continue
    if [ "$f" = "$root" ]; then bad "$f: protocol code includes <$sys> (ISO C headers only: no I/O, no OS)"
    else bad "$root: through $f includes <$sys> (ISO C headers only: no I/O, no OS)"; fi
  done
  mapfile -t qs < <(quoted_includes "$f")
  for q in "${qs[@]}"; do
    h=$(resolve "$f" "$q")
    if [ -n "$h" ]; then walk "$h" "$root"; fi
  done
}
[ -n "${layer_dir[protocol]:-}" ] || { echo "check-layers: no protocol layer" >&2; exit 1; }
[ -n "${layer_dir[fastboot]:-}" ] || { echo "check-layers: no fastboot layer" >&2; exit 1; }
# The fastboot client is protocol code too (driven through cmboot_transport and the clock): the same rule.
while IFS= read -r f; do
  seen=()
  walk "$f" "$f"
done < <(find "src/${layer_dir[protocol]}" "src/${layer_dir[fastboot]}" -name '*.[ch]' | sort)

# The emulator's parts (cmboot_sim_part() in sim/CMakeLists.txt) by the same rules: a part includes its own
# folder, public headers and the exported headers (sim/<dir>/include/) of the parts it DEPENDS on, so sim/model
# includes no frontend and nothing of src/; the programs (sim/main_*.c) any part's exported headers.
declare -A part_dir part_deps
scalls=$(tr '\n' ' ' < sim/CMakeLists.txt | grep -o 'cmboot_sim_part([a-z_]* [^)]*)' || true)
[ -n "$scalls" ] || { echo "check-layers: no cmboot_sim_part() calls in sim/CMakeLists.txt" >&2; exit 1; }
while read -r call; do
  [ -n "$call" ] || continue
  read -r -a w <<< "${call#cmboot_sim_part(}"
  name=${w[0]} dir="" deps="" mode=""
  for t in "${w[@]:1}"; do
    t=${t%)}
    case $t in
      DIR|DEPENDS|USES) mode=$t ;;
      *) case $mode in DIR) dir=$t ;; DEPENDS) deps="$deps $t" ;; esac ;;
    esac
  done
  [ -d "sim/$dir" ] || { echo "check-layers: emulator part $name: no folder sim/$dir" >&2; exit 1; }
  part_dir[$name]=$dir part_deps[$name]=$deps
done <<< "${scalls//cmboot_sim_part(/$'\n'cmboot_sim_part(}"
mapfile -t simfiles < <(find sim -name '*.[ch]' | sort)
for f in "${simfiles[@]}"; do
  me="" allowed=""
  for p in "${!part_dir[@]}"; do
    case $f in "sim/${part_dir[$p]}/"*) me=$p ;; esac
  done
  if [ -n "$me" ]; then allowed="$me ${part_deps[$me]}"
  else
    case $f in sim/main_*.c) allowed="${!part_dir[*]}" ;; *) bad "$f: in no emulator part (sim/CMakeLists.txt)"; continue ;; esac
  fi
  mapfile -t incs < <(quoted_includes "$f")
  for inc in "${incs[@]}"; do
    case $inc in
      cmboot/*) [ -f "include/$inc" ] || [ "$inc" = cmboot/version.h ] || bad "$f: $inc is no public header" ;;
      */*)
        ok=0
        for p in $allowed; do [ -f "sim/${part_dir[$p]}/include/$inc" ] && ok=1; done
        [ $ok = 1 ] || bad "$f: includes $inc, no exported header of ${me:-a part} or a part it depends on" ;;
      *) [ -f "$(dirname "$f")/$inc" ] || bad "$f: includes \"$inc\", not in its own folder" ;;
    esac
  done
done

if [ $fail = 1 ]; then echo "check-layers: the layering is broken (docs/architecture.md)" >&2; exit 1; fi
echo "check-layers: ${#files[@]} files in ${#layer_dir[@]} layers keep to their layers; protocol/ and fastboot/ include ISO C only;" \
     "${#simfiles[@]} emulator files keep to sim/model and sim/front"
