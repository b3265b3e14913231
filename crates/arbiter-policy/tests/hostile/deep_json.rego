package main

import rego.v1

# JSON nested 100,000 deep, built at run time and parsed.
s := concat("", ["[" | some _ in numbers.range(1, 100000)])

deny contains "unreachable" if json.unmarshal(s)
