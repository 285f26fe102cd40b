#!/usr/bin/env python3
"""Checks that every reference in the tree resolves inside the repository.

Fails (exit 1, one `file:line: reason` per problem) on:
  * a section sign followed by a number: a reference to an external document's numbering;
  * "issue N": a tracker reference, which says nothing to a reader of the code;
  * a path into the shared, unpublished notes the semantics were first written from;
  * a link to `docs/PAGE.md#anchor` (or, inside docs/, to `PAGE.md#anchor`) whose page or heading does not exist.

The semantics the code relies on live in docs/; a comment states the rule and may link the section there.
Usage: python3 tools/check_refs.py [ROOT]   (default: the repository holding this script)
"""
import os
import re
import subprocess
import sys

SECTION_SIGN = "\u00a7"
PROBLEMS = [
    (re.compile(SECTION_SIGN + r"\s?\d"), "numbered section of an external document (link a docs/ section instead)"),
    (re.compile(r"\b[Ii]ssues?\s#?\d+\b"), "tracker reference (state the rule or the reason instead)"),
    (re.compile(r"shared/spec|guardduty\.md|catalogue-2026"), "path outside the repository"),
]
DOC_LINK = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?")
# Relative Markdown links between pages of docs/ (`[text](api.md#retention)`).
LOCAL_LINK = re.compile(r"\]\(([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?\)")
SKIP_EXT = {".gz", ".png", ".jpg", ".mmdb", ".sqlite", ".db", ".bin", ".zst", ".pdf"}
SELF = "tools/check_refs.py"


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(root):
    found = {}
    docs = os.path.join(root, "docs")
    for name in sorted(os.listdir(docs)) if os.path.isdir(docs) else []:
        if not name.endswith(".md"):
            continue
        with open(os.path.join(docs, name), encoding="utf-8") as fh:
            in_code = False
            heads = set()
            for line in fh:
                if line.startswith("```"):
                    in_code = not in_code
                elif not in_code and re.match(r"#{1,6} ", line):
                    heads.add(slug(line.lstrip("#")))
        found[name] = heads
    return found


def files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in {".git", "target", ".venv", "__pycache__"}]
            names += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames]
    return sorted(n for n in names if n != SELF and n != "Cargo.lock" and os.path.splitext(n)[1] not in SKIP_EXT)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pages = anchors(root)
    problems = 0
    for rel in files(root):
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        in_docs = rel.startswith("docs/")
        for n, line in enumerate(lines, 1):
            for pattern, reason in PROBLEMS:
                if pattern.search(line):
                    print(f"{rel}:{n}: {reason}: {line.strip()}")
                    problems += 1
            links = list(DOC_LINK.finditer(line)) + (list(LOCAL_LINK.finditer(line)) if in_docs else [])
            for m in links:
                page, anchor = m.group(1), m.group(2)
                if page not in pages:
                    print(f"{rel}:{n}: no page docs/{page}")
                    problems += 1
                elif anchor and anchor not in pages[page]:
                    print(f"{rel}:{n}: no heading #{anchor} in docs/{page}")
                    problems += 1
    if problems:
        print(f"{problems} reference problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
