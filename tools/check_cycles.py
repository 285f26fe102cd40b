#!/usr/bin/env python3
"""Fails when modules of one crate depend on each other in a cycle.

A module depends on another when its code (comments aside, `#[cfg(test)] mod tests` aside) names
it through `crate::` or `super::`. Cycles make a crate's layers impossible to read or split; the
fix is to move what both sides need into a module of its own.

Usage: python3 tools/check_cycles.py [REPO]   (exit 1 and one line per cycle when there are any)
"""
import os
import re
import sys


def module_name(root, path):
    parts = os.path.relpath(path, root)[:-3].split(os.sep)
    if parts[-1] in ("lib", "mod", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def graph(root):
    modules = {}
    for directory, _, files in os.walk(root):
        for f in files:
            if f.endswith(".rs"):
                path = os.path.join(directory, f)
                modules[module_name(root, path)] = path
    edges = {m: set() for m in modules}
    for m, path in modules.items():
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        for ref in re.findall(r"\bcrate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", text):
            parts = ref.split("::")
            for k in range(len(parts), 0, -1):
                target = "::".join(parts[:k])
                if target in modules:
                    if target != m and not m.startswith(target + "::"):
                        edges[m].add(target)
                    break
        parent = m.split("::")[:-1]
        for ref in re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", text):
            target = "::".join(parent + [ref])
            if target in modules and target != m:
                edges[m].add(target)
    return edges


def cycles(edges):
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    bad = 0
    for crate in sorted(os.listdir(os.path.join(repo, "crates"))):
        root = os.path.join(repo, "crates", crate, "src")
        if os.path.isdir(root):
            for component in cycles(graph(root)):
                print(f"crates/{crate}: modules in a cycle: {', '.join(component)}")
                bad += 1
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
