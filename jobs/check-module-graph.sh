#!/usr/bin/env bash
# Checks that the module graph drawn at the top of Package.swift is the real one: for every
# module of Sources/, the modules its files import equal the modules the table lists for it;
# and that every module a target (sources and tests) imports is one of its declared
# dependencies. System modules (Foundation, Glibc, Darwin, Dispatch, Testing, XCTest) are left out.
#
#   jobs/check-module-graph.sh        # prints one line per disagreement; exit status 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os, re, sys

system = {"Foundation", "Glibc", "Darwin", "Dispatch", "Testing", "XCTest"}
package = open("Package.swift").read()

# The drawn table: "//   Module   Import Import ...   what".
header = package[package.index("// Module graph"):package.index("import PackageDescription")]
drawn = {}
for line in header.splitlines():
    m = re.match(r"//   ([A-Za-z_][A-Za-z0-9_]*) {2,}(\S.*?)(?: {3,}.*)?$", line)
    if m and m.group(1) != "module" and not m.group(1).startswith("_C"):
        names = m.group(2).split()
        drawn[m.group(1)] = set() if names == ["-"] else set(names)

def imports(directory):
    found = set()
    for root, _, files in os.walk(directory):
        for name in files:
            if name.endswith(".swift"):
                for line in open(os.path.join(root, name)):
                    m = re.match(r"\s*(?:@testable |@_exported )?import (?:struct |class |enum |func )?([A-Za-z_][A-Za-z0-9_]*)", line)
                    if m and m.group(1) not in system:
                        found.add(m.group(1))
    return found

# Declared dependencies of every target: name, path, dependencies (names or .product names).
targets = {}
for m in re.finditer(r'\.(?:target|executableTarget|testTarget)\(\s*name:\s*"([^"]+)"(.*?)\)\s*,[ \t]*(?://[^\n]*)?(?=\n\s*(?://|\.|\]))', package, re.S):
    name, body = m.group(1), m.group(2)
    path = re.search(r'path:\s*"([^"]+)"', body)
    deps = re.search(r'dependencies:\s*\[(.*?)\]\s*(?:,|$)', body, re.S)
    declared = set(re.findall(r'"([^"]+)"', deps.group(1))) if deps else set()
    declared = {d for d in declared if d not in ("Yams", "swift-argument-parser")} | (
        {"Yams"} if deps and "Yams" in deps.group(1) else set()) | (
        {"ArgumentParser"} if deps and "ArgumentParser" in deps.group(1) else set())
    kind = "Tests" if ".testTarget" in package[m.start():m.start() + 14] else "Sources"
    targets[name] = (path.group(1) if path else f"{kind}/{name}", declared)

problems = []
for name, (path, declared) in sorted(targets.items()):
    if not os.path.isdir(path):
        problems.append(f"{name}: no directory {path}")
        continue
    used = imports(path)
    for missing in sorted(used - declared):
        problems.append(f"{name} imports {missing} but does not declare it in Package.swift")
    if path.startswith("Sources/") and not name.startswith("_C"):
        if name not in drawn:
            problems.append(f"{name} is missing from the module graph at the top of Package.swift")
        elif drawn[name] != used:
            problems.append(f"{name}: the graph lists {sorted(drawn[name])}, its files import {sorted(used)}")
for name in sorted(set(drawn) - set(targets)):
    problems.append(f"the module graph lists {name}, which is not a target")
for line in problems:
    print("check-module-graph: " + line)
if problems:
    sys.exit(1)
print(f"check-module-graph: {len(targets)} targets, graph and imports agree")
PY
