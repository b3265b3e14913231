package main

import rego.v1

# a needs b, b needs a.
a := b + 1

b := a + 1

deny contains "unreachable" if a > 0
