#!/usr/bin/env python3
"""man_pages.py - the man pages of docs/man/ say what the programs do.

For each page: groff renders it without a warning. Then, against the built
programs (XFED_BIN) and the sources (XFED_SRC):
  - xfedctl.8 has a subsection for every command of `xfedctl --help`, names
    every subcommand of `xfedctl COMMAND --help` in it and every long option
    of each `--help`, and documents no command the program lacks;
  - xfed-edge.8, xfed-panel.8, xfed-gateway.8 document exactly the options of
    the program's usage text (a daemon that is not built yet is reported and
    its option check left out);
  - the keys of edge.conf, panel.conf and gateway.conf are the same in the
    program's table (edge/edge_conf.c, conf/panel_options.c,
    gateway/gw_conf.c), in the packaged file (image/etc/) and in the man
    page.
Exit 0 when everything matches, 1 with every mismatch listed."""
import os
import re
import subprocess
import sys

SRC = os.environ.get("XFED_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("XFED_BIN") or os.path.join(SRC, "build", "bin")
MAN = os.path.join(SRC, "docs", "man")
problems = []


def problem(msg):
    problems.append(msg)
    print("FAIL: " + msg)


def page(name):
    with open(os.path.join(MAN, name + ".8"), encoding="utf-8") as f:
        return f.read()


def unescape(text):
    return text.replace("\\-", "-")


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return p.stdout + p.stderr


def section(text, title):
    m = re.search(r'^\.SH "?' + re.escape(title) + r'"?\n(.*?)(?=^\.SH |\Z)', text, re.M | re.S)
    return m.group(1) if m else ""


def tp_options(text):
    """Short and long options named in the tag lines of an OPTIONS section."""
    opts = set()
    lines = section(text, "OPTIONS").splitlines()
    for i, line in enumerate(lines):
        if line == ".TP" and i + 1 < len(lines):
            tag = unescape(lines[i + 1])
            opts.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", tag))
    return opts


def usage_options(text):
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))


def lint(name):
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(MAN, name + ".8")],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or p.stderr.strip():
        problem(f"{name}.8: groff: {p.stderr.strip() or 'exit %d' % p.returncode}")
    if not re.search(r"^\.TH " + re.escape(name.upper()) + r" 8 ", page(name), re.M):
        problem(f"{name}.8: no .TH {name.upper()} 8")


def check_xfedctl():
    prog = os.path.join(BIN, "xfedctl")
    if not os.access(prog, os.X_OK):
        problem(f"{prog} not built")
        return
    text = page("xfedctl")
    subsections = [unescape(s) for s in re.findall(r'^\.SS "?(.*?)"?$', text, re.M)]
    main = run([prog, "--help"])
    commands = re.findall(r"^  (\w[\w-]*)  +\S", main.split("Commands:")[1], re.M)
    documented = {s.split()[0] for s in subsections}
    for c in commands:
        mine = [s for s in subsections if s.split()[0] == c]
        if not mine:
            problem(f"xfedctl.8: no subsection for command '{c}'")
            continue
        words = set(re.findall(r"[\w-]+", " ".join(mine)))
        helptext = run([prog, c, "--help"])
        subs = sorted(set(re.findall(r"^\s*(?:usage: )?xfedctl " + re.escape(c) + r" ([a-z][\w-]*)",
                                     helptext, re.M)) - {"SUBCOMMAND"})
        texts = [helptext] + [run([prog, c, s, "--help"]) for s in subs]
        for s in subs:
            if s not in words:
                problem(f"xfedctl.8: command '{c}': subcommand '{s}' not documented")
        body = unescape(text)
        opts = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", "\n".join(texts))) - {"--help"}
        for opt in sorted(opts):
            if opt not in body:
                problem(f"xfedctl.8: command '{c}': option {opt} not documented")
    for d in documented - set(commands):
        problem(f"xfedctl.8: documents command '{d}' that xfedctl does not have")
    want = usage_options(main.split("Commands:")[0])
    have = tp_options(text)
    if want != have:
        problem(f"xfedctl.8: OPTIONS {sorted(have)} but xfedctl --help has {sorted(want)}")


def check_daemon(name, usage_arg):
    prog = os.path.join(BIN, name)
    if not os.access(prog, os.X_OK):
        print(f"note: {name} is not built: its options are not checked")
        return
    out = run([prog, usage_arg])
    usage = out[out.find("usage:"):] if "usage:" in out else out
    want = {o for o in usage_options(usage) if not o.startswith("--")}
    have = tp_options(page(name))
    if want != have:
        problem(f"{name}.8: OPTIONS {sorted(have)} but the usage of {name} has {sorted(want)}")
    else:
        print(f"{name}.8: options {' '.join(sorted(have))} match the program")


def table_keys(path, pattern):
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        return set(re.findall(pattern, f.read(), re.M))


def check_keys(name, conf, table, pattern):
    if not os.path.exists(os.path.join(SRC, table)):
        print(f"note: {table} does not exist yet: {conf} is not checked")
        return
    keys = table_keys(table, pattern)
    if not keys:
        problem(f"no keys found in {table}")
        return
    with open(os.path.join(SRC, "image", "etc", conf), encoding="utf-8") as f:
        shipped = set(re.findall(r"^#?([a-z_0-9]+) = ", f.read(), re.M))
    documented = set(re.findall(r"^\.BR ([a-z_0-9]+) \"", section(page(name), "CONFIGURATION"),
                                re.M))
    for label, got in (("image/etc/" + conf, shipped), (name + ".8", documented)):
        if got != keys:
            problem(f"{label}: keys differ from {table}: missing {sorted(keys - got)}, "
                    f"unknown {sorted(got - keys)}")
    if shipped == keys and documented == keys:
        print(f"{conf}: {len(keys)} keys, the same in {table}, image/etc/{conf} and {name}.8")


def main():
    for name in ("xfedctl", "xfed-edge", "xfed-gateway", "xfed-panel"):
        lint(name)
    check_xfedctl()
    check_daemon("xfed-edge", "-h")
    check_daemon("xfed-panel", "-h")
    check_daemon("xfed-gateway", "-h")
    check_keys("xfed-edge", "edge.conf", "edge/edge_conf.c", r'^\s*\{"([a-z_]+)", LK_')
    check_keys("xfed-panel", "panel.conf", "conf/panel_options.c", r'OPT_[SU]\("([a-z_]+)"')
    check_keys("xfed-gateway", "gateway.conf", "gateway/gw_conf.c", r'^\s*\{"([a-z_0-9]+)", LK_')
    if problems:
        print(f"man_pages: {len(problems)} problem(s)")
        return 1
    print("man_pages: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
