#!/usr/bin/env python3
"""configmap_keys.py TEMPLATE DIRECTIVES.c — the config.yaml the chart renders
uses only keys the processes know: every `"section" (dict "key" value ...)` of
the ConfigMap template names a section and keys of libcommon's directive table.
Prints "section.key" for each unknown one (exit 1); keys added with
`set $x "key"` (conditional) are printed with "conditional:" and do not fail."""
import re
import sys

tpl = open(sys.argv[1]).read()
known = {}
for sec, key in re.findall(r'\{\s*"([a-z_]+)",\s*"([a-z_0-9]+)",\s*TD_CFG_', open(sys.argv[2]).read()):
    known.setdefault(sec, set()).add(key)

tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\(|\)|[^\s()"]+', tpl)
bad, checked = [], 0
i = 0
while i < len(tokens):
    t = tokens[i]
    if t.startswith('"') and t[1:-1] in known and i + 2 < len(tokens) and tokens[i + 1] == "(" and tokens[i + 2] == "dict":
        sec, depth, pos, j = t[1:-1], 1, 0, i + 3
        while j < len(tokens) and depth > 0:
            u = tokens[j]
            if u == "(":
                depth += 1
            elif u == ")":
                depth -= 1
            elif depth == 1:
                if pos % 2 == 0:  # a key
                    if not (u.startswith('"') and u[1:-1] in known[sec]):
                        bad.append(f"{sec}.{u.strip(chr(34))}")
                    checked += 1
                pos += 1
            if u == "(" and depth == 2:
                pos += 1  # a parenthesised value counts as one
            j += 1
        i = j
        continue
    i += 1
for var, key in re.findall(r'set \$(\w+) "([a-z_]+)"', tpl):
    sec = var if var in known else None
    if sec is None or key not in known[sec]:
        print(f"conditional: {var}.{key} is not in the directive table (yet)")
for b in bad:
    print(f"unknown: {b}")
print(f"{checked} keys checked")
sys.exit(1 if bad else 0)
