#!/usr/bin/env python3
"""Checks that the man page keeps up with the --help texts it documents.

usage: man_options.py DETVM PAGE

The --help texts are the source of truth. For every command `DETVM --help` lists, PAGE
(troff source, man macros) must have a subsection `.SS "detvm COMMAND ..."` (several may
share a command), and every long option `--name` in `DETVM COMMAND --help` must appear in
that command's subsections, with its short form where the help pairs one (`-o, --output`).
Every long option of `DETVM --help` (which `detvm help --help` prints too) must appear
somewhere in PAGE, and `.TH` must carry
the version `DETVM version` prints. Prints what is missing; exit 0 when nothing is, 1
when something is, 2 on bad arguments or a DETVM that cannot print its help.
"""
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")
PAIR = re.compile(r"(?<![\w-])(-[a-zA-Z]), (--[a-z0-9][a-z0-9-]*)")


def help_text(detvm, *args):
    p = subprocess.run([detvm, *args, "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"man_options: `{detvm} {' '.join(args)} --help` exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def plain(line):
    """A troff source line as text: font and zero-width escapes dropped, \\- as -."""
    line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
    line = re.sub(r"\\[&%c]", "", line)
    return line.replace("\\-", "-").replace("\\e", "\\")


def sections(page):
    """{command: text of its .SS "detvm COMMAND ..." subsections} and the whole page."""
    by_cmd, cur, whole = {}, None, []
    for raw in page.splitlines():
        line = plain(raw)
        whole.append(line)
        if line.startswith(".SS"):
            words = line[3:].strip().strip('"').split()
            cur = words[1] if len(words) > 1 and words[0] == "detvm" else None
            if cur:
                by_cmd.setdefault(cur, [])
            continue
        if line.startswith(".SH"):
            cur = None
        if cur:
            by_cmd[cur].append(line)
    return {k: "\n".join(v) for k, v in by_cmd.items()}, "\n".join(whole)


def has(text, opt):
    return re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text) is not None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    detvm, page_path = sys.argv[1], sys.argv[2]
    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    by_cmd, whole = sections(page)
    missing = []

    top = help_text(detvm)
    block = top.split("\ncommands:\n", 1)
    if len(block) != 2:
        sys.exit("man_options: `detvm --help` has no 'commands:' list")
    commands = [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)  ", block[1], re.M)]
    if len(commands) < 5:
        sys.exit(f"man_options: only {len(commands)} commands found in `detvm --help`")
    for opt in sorted(set(LONG.findall(top))):
        if not has(whole, opt):
            missing.append(f"detvm {opt}: not in the page")

    checked = 0
    for cmd in commands:
        if cmd not in by_cmd:
            missing.append(f"detvm {cmd}: no .SS \"detvm {cmd} ...\" subsection")
            continue
        text, sec = help_text(detvm, cmd), by_cmd[cmd]
        if text == top:  # `detvm help --help`: the command list, checked page-wide above
            continue
        for opt in sorted(set(LONG.findall(text))):
            checked += 1
            if not has(sec, opt):
                missing.append(f"detvm {cmd} {opt}: in its --help, not in its subsection")
        for short, long_ in sorted(set(PAIR.findall(text))):
            if not has(sec, short):
                missing.append(f"detvm {cmd} {short} (for {long_}): in its --help, not in its subsection")

    version = subprocess.run([detvm, "version"], capture_output=True, text=True).stdout.split()
    th = next((l for l in whole.splitlines() if l.startswith(".TH")), "")
    if len(version) < 2 or version[1] not in th:
        missing.append(f".TH does not name version {version[1:] or '?'}: {th!r}")

    for m in missing:
        print(f"man_options: {page_path}: {m}")
    print(f"man_options: {len(commands)} commands, {checked} options of their --help texts; "
          f"{len(missing)} missing", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
