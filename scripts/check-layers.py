#!/usr/bin/env python3
"""Checks which src/ folders include which (the layering of docs/architecture.md).

Every `#include "<folder>/..."` from a file under src/<other>/ is an edge other -> folder.
scripts/layers.txt lists the edges allowed. A new edge fails the check: either it runs the
right way (add it to the list, in the same commit, with the reason) or the include belongs
elsewhere. An edge in the list that the code no longer has also fails, so the list says what
the code does. The build links each folder's library to the folders the same list names
(CMakeLists.txt), so an include that runs the wrong way does not even compile; this check adds
what links cannot see: an include of a folder reached only through another one.

It also keeps engine knowledge in the connectors (issue 12): `Engine::k...` may appear only
under src/connectors/ (each engine's dialect and connector), src/endpoint/ (an engine chosen
from a URI) and src/catalog/ (the Engine enum's own names). Anywhere else it is a decision that
belongs to a Dialect or Connector capability (connectors/dialect.h). scripts/engine-names.txt
lists the files allowed a count of them anyway, each with its reason: a ratchet, a file may
go below its count (then lower it) but never above, and a file not listed has none.

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
# Engine::k outside the folders that own engine knowledge.
engine_homes = ("connectors", "endpoint", "catalog")
engine_ref = re.compile(r"\bEngine::k[A-Z]\w*")
engine_counts = {}  # path -> count
for path in sorted(src.rglob("*")):
    if path.suffix not in (".h", ".cc") or path.relative_to(src).parts[0] in engine_homes:
        continue
    n = len(engine_ref.findall(path.read_text(encoding="utf-8", errors="replace")))
    if n:
        engine_counts[str(path.relative_to(root))] = n
engine_allowed = {}
allow_file = root / "scripts" / "engine-names.txt"
for line in (allow_file.read_text().splitlines() if allow_file.exists() else []):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    where, colon, count = line.rpartition(":")
    if not colon or not count.strip().isdigit():
        sys.exit(f"scripts/engine-names.txt: '{line}' is not 'path: count'")
    engine_allowed[where.strip()] = int(count)
for where, n in sorted(engine_counts.items()):
    allowed_n = engine_allowed.get(where, 0)
    if n > allowed_n:
        problems.append(f"{where}: {n} Engine::k references, {allowed_n} allowed: ask the "
                        "connector's Dialect (connectors/dialect.h) instead of comparing "
                        "engines, or list the file in scripts/engine-names.txt with the reason")
for where, allowed_n in sorted(engine_allowed.items()):
    n = engine_counts.get(where, 0)
    if n < allowed_n:
        problems.append(f"scripts/engine-names.txt allows {where} {allowed_n} Engine::k "
                        f"references and it has {n}: lower the count")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"layering: {len(found)} folder edges, all allowed; "
      f"{sum(engine_counts.values())} Engine::k references outside {', '.join(engine_homes)}")
