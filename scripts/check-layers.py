#!/usr/bin/env python3
"""Checks which src/ folders include which (the layering of docs/architecture.md).

Every `#include "<folder>/..."` from a file under src/<other>/ is an edge other -> folder.
scripts/layers.txt lists the edges allowed today. A new edge fails the check: either it runs
the right way (add it to the list, in the same commit, with the reason) or the include belongs
elsewhere. An edge in the list that the code no longer has also fails, so the list only
shrinks as the known wrong-way edges are removed.

Usage: scripts/check-layers.py [repository root]   (run by ctest as `layering`)
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
src = root / "src"
include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)

found = {}  # (from, to) -> first file that has it
for path in sorted(src.rglob("*")):
    if path.suffix not in (".h", ".cc"):
        continue
    folder = path.relative_to(src).parts[0]
    for to in include.findall(path.read_text(encoding="utf-8", errors="replace")):
        if to != folder and (src / to).is_dir():
            found.setdefault((folder, to), str(path.relative_to(root)))

allowed = set()
for line in (root / "scripts" / "layers.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    frm, arrow, to = line.partition("->")
    if not arrow:
        sys.exit(f"scripts/layers.txt: '{line}' is not 'folder -> folder'")
    allowed.add((frm.strip(), to.strip()))

problems = []
for edge, where in sorted(found.items()):
    if edge not in allowed:
        problems.append(f"new include edge {edge[0]} -> {edge[1]} (first in {where}): "
                        "add it to scripts/layers.txt if it runs the right way, else move "
                        "the code")
for edge in sorted(allowed - set(found)):
    problems.append(f"scripts/layers.txt allows {edge[0]} -> {edge[1]}, which no include "
                    "uses any more: remove the line")
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"layering: {len(found)} folder edges, all allowed")
