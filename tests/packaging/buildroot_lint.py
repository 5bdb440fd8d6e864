#!/usr/bin/env python3
"""Lint of our BR2_EXTERNAL tree (packaging/buildroot) after the rules of buildroot's utils/check-package that
can be checked offline: Config.in indentation, attribute order and help text width; .mk header, variable
prefixes, define-block indentation, useless flags and the closing $(eval ...); whitespace everywhere.

usage: buildroot_lint.py TREE            lint TREE, exit 1 on any finding
       buildroot_lint.py --conf-opts MK  print the -D options of MK's <PKG>_CONF_OPTS, one a line
       buildroot_lint.py --self-test     prove each rule catches a broken sample
"""
import os
import re
import sys

CONFIG_ENTRIES = {"choice", "comment", "config", "endchoice", "endif", "endmenu", "if", "menu", "menuconfig",
                  "source"}
CONFIG_ATTRS = {"bool": 1, "prompt": 1, "string": 1, "int": 1, "hex": 1, "default": 2, "depends": 3, "select": 4,
                "help": 5}
INFRAS = {"generic", "cmake", "autotools", "meson", "python", "kconfig", "kernel-module", "golang", "cargo",
          "waf", "perl", "luarocks", "qmake", "virtual", "rebar"}
USELESS = {"INSTALL_STAGING": "NO", "INSTALL_TARGET": "YES", "AUTORECONF": "NO", "LIBTOOL_PATCH": "YES"}
FOREIGN_PREFIXES = ("BR2_", "BR_", "TARGET_", "HOST_", "STAGING_", "BASE_", "BUILD_", "LINUX_")


def common(name, lines, text):
    out = []
    if text and not text.endswith("\n"):
        out.append(f"{name}: no newline at the end of the file")
    if lines and lines[-1].strip() == "":
        out.append(f"{name}:{len(lines)}: empty last line")
    prev_empty = False
    for i, line in enumerate(lines, 1):
        if line != line.rstrip():
            out.append(f"{name}:{i}: trailing whitespace")
        empty = line.strip() == ""
        if empty and prev_empty:
            out.append(f"{name}:{i}: consecutive empty lines")
        prev_empty = empty
    return out


def lint_config(name, text):
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    out = common(name, lines, text)
    state, in_help, help_first, continued = 0, False, False, False
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if continued:
            continued = line.rstrip().endswith("\\")
            if not line.startswith("\t"):
                out.append(f"{name}:{i}: continuation line not indented with a tab")
            continue
        continued = not stripped.startswith("#") and line.rstrip().endswith("\\")
        if stripped == "" or stripped.startswith("#"):
            continue
        word = stripped.split()[0]
        if in_help and line.startswith("\t  "):
            body = line[3:]
            if help_first and (body[:1].isspace() or body == ""):
                out.append(f"{name}:{i}: help text starts with a blank")
            if len(body) > 62 and not re.match(r"^(http|https|git)://\S*$", body.strip()):
                out.append(f"{name}:{i}: help text over <tab><2 spaces><62 chars>")
            help_first = False
            continue
        in_help = False
        if word in CONFIG_ENTRIES:
            state = 0
            if line != line.lstrip():
                out.append(f"{name}:{i}: '{word}' should not be indented")
            continue
        if word in CONFIG_ATTRS:
            if not line.startswith("\t" + word):
                out.append(f"{name}:{i}: '{word}' should be indented with one tab")
            if state > CONFIG_ATTRS[word]:
                out.append(f"{name}:{i}: attributes order: type, default, depends on, select, help")
            state = CONFIG_ATTRS[word]
            if word == "help":
                in_help, help_first = True, True
            if re.match(r"^\tdefault n\s*(#.*)?$", line):
                out.append(f"{name}:{i}: 'default n' is redundant")
    return out


def lint_mk(name, text, pkg):
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    out = common(name, lines, text)
    bar = "#" * 80
    if lines[:6] != [bar, "#", f"# {pkg}", "#", bar, ""]:
        out.append(f"{name}:1: header must be 80 '#', '#', '# {pkg}', '#', 80 '#', an empty line")
    prefix = pkg.upper().replace("-", "_") + "_"
    in_define, continued, defined = False, False, set()
    for i, line in enumerate(lines, 1):
        if continued:
            if not line.startswith("\t"):
                out.append(f"{name}:{i}: continuation line not indented with a tab")
        ends = line.rstrip().endswith("\\") and not line.lstrip().startswith("#")
        if ends and not re.search(r"[^ \t] \\$", line.rstrip()):
            out.append(f"{name}:{i}: use exactly one space before the backslash")
        was_continued, continued = continued, ends
        if was_continued:
            continue
        if line.startswith("define "):
            in_define = True
            var = line.split()[1]
            if not var.startswith(prefix):
                out.append(f"{name}:{i}: {var} should start with {prefix}")
            continue
        if line.startswith("endef"):
            in_define = False
            continue
        if in_define:
            if line.strip() and not line.startswith("\t"):
                out.append(f"{name}:{i}: define block lines are indented with a tab")
            continue
        m = re.match(r"^([A-Za-z0-9_]+)\s*(\+=|:=|\?=|=)\s*(.*)$", line)
        if m:
            var, value = m.group(1), m.group(3).strip()
            defined.add(var)
            if not var.startswith(prefix) and not var.startswith(FOREIGN_PREFIXES):
                out.append(f"{name}:{i}: {var}: variables of {pkg}.mk start with {prefix}")
            tail = var[len(prefix):] if var.startswith(prefix) else None
            if tail in USELESS and value == USELESS[tail]:
                out.append(f"{name}:{i}: {var} = {value} is the default")
    for need in ("VERSION", "SITE"):
        if prefix + need not in defined:
            out.append(f"{name}: {prefix}{need} is not set")
    last = [x for x in lines if x.strip()][-1] if lines else ""
    m = re.match(r"^\$\(eval \$\(([a-z-]+)-package\)\)$", last)
    if not m or m.group(1) not in INFRAS:
        out.append(f"{name}: last line must be $(eval $(<infra>-package))")
    return out


def lint_tree(tree):
    out = []
    desc = open(os.path.join(tree, "external.desc")).read()
    m = re.search(r"^name:\s*(\S+)\s*$", desc, re.M)
    if not m or not re.match(r"^[A-Za-z0-9_]+$", m.group(1)):
        return ["external.desc: no valid 'name:' ([A-Za-z0-9_]+)"]
    ext = m.group(1)
    if not re.search(r"^desc:\s*\S", desc, re.M):
        out.append("external.desc: no 'desc:'")
    ext_mk = open(os.path.join(tree, "external.mk")).read()
    if f"$(BR2_EXTERNAL_{ext}_PATH)/package/" not in ext_mk:
        out.append(f"external.mk: does not include $(BR2_EXTERNAL_{ext}_PATH)/package/*/*.mk")
    top = open(os.path.join(tree, "Config.in")).read()
    out += lint_config("Config.in", top)
    pkgdir = os.path.join(tree, "package")
    pkgs = sorted(os.listdir(pkgdir))
    for src in re.findall(r'^source "([^"]+)"', top, re.M):
        path = src.replace(f"$BR2_EXTERNAL_{ext}_PATH", tree)
        if not src.startswith(f"$BR2_EXTERNAL_{ext}_PATH/") or not os.path.isfile(path):
            out.append(f"Config.in: source {src} is not a file of this tree")
    for pkg in pkgs:
        if f"package/{pkg}/Config.in" not in top:
            out.append(f"Config.in: package/{pkg}/Config.in is not sourced")
        cfg = open(os.path.join(pkgdir, pkg, "Config.in")).read()
        rel = f"package/{pkg}/Config.in"
        out += lint_config(rel, cfg)
        sym = "BR2_PACKAGE_" + pkg.upper().replace("-", "_")
        if not re.search(rf"^config {sym}$", cfg, re.M):
            out.append(f"{rel}: does not declare config {sym}")
        mk = os.path.join(pkgdir, pkg, pkg + ".mk")
        if not os.path.isfile(mk):
            out.append(f"package/{pkg}: no {pkg}.mk")
            continue
        out += lint_mk(f"package/{pkg}/{pkg}.mk", open(mk).read(), pkg)
    return out, len(pkgs)


def conf_opts(mk):
    text = open(mk).read().replace("\\\n", " ")
    pkg = os.path.basename(mk)[:-3].upper().replace("-", "_")
    opts = []
    for m in re.finditer(rf"^{pkg}_CONF_OPTS\s*\+?=\s*(.*)$", text, re.M):
        opts += m.group(1).split()
    return opts


def self_test():
    bad_cfg = ("config BR2_PACKAGE_FOO\n  bool \"foo\"\n\tselect BR2_PACKAGE_BAR\n\tdepends on BR2_X\n\tdefault n\n"
               "\thelp\n\t   starts with a blank\n\t  " + "x" * 63 + "\n\n\n")
    found = lint_config("bad/Config.in", bad_cfg)
    want = ["one tab", "attributes order", "default n", "starts with a blank", "62 chars", "consecutive empty",
            "empty last line"]
    bad_mk = ("# foo\n\nFOO_VERSION = 1\nBAR_SITE = x\nFOO_INSTALL_TARGET = YES\nFOO_CONF_OPTS = -DA=1  \\\n"
              "  -DB=2\ndefine FOO_BUILD_CMDS\n    make\nendef\n$(eval $(nosuch-package))\n")
    found += lint_mk("bad/foo.mk", bad_mk, "foo")
    want += ["header", "BAR_SITE", "is the default", "one space before", "continuation line", "indented with a tab",
             "FOO_SITE is not set", "last line"]
    missed = [w for w in want if not any(w in f for f in found)]
    good = lint_config("good/Config.in", "config BR2_PACKAGE_FOO\n\tbool \"foo\"\n\thelp\n\t  Foo.\n")
    if missed or good:
        print("buildroot-lint self-test: rules that caught nothing:", missed, "false findings:", good)
        return 1
    print(f"buildroot-lint self-test: {len(want)} rules each caught its broken sample")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) == 3 and argv[1] == "--conf-opts":
        print("\n".join(conf_opts(argv[2])))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if self_test() != 0:
        return 1
    found, n = lint_tree(argv[1])
    for f in found:
        print(f, file=sys.stderr)
    if found:
        return 1
    print(f"buildroot-lint: {argv[1]}: external tree and {n} packages clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
