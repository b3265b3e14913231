package main

import rego.v1

# f calls g, g calls f.
f(x) := g(x + 1)

g(x) := y if {
	y := f(x * 2)
}

deny contains "unreachable" if f(1) > 0
