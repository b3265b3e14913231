package main

import rego.v1

# Replacing each of 100,000 characters by the 100,000-character string:
# 10^10 bytes from one call.
s := concat("", ["a" | some _ in numbers.range(1, 100000)])

deny contains "unreachable" if count(replace(s, "a", s)) > 0
