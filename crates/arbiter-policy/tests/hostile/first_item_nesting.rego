package main

import rego.v1

# Arrays nested in their first item: regorus parses each level twice
# (2^20 parses; 18 levels took 40 s).
v := [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]

deny contains "unreachable" if count(v) > 0
