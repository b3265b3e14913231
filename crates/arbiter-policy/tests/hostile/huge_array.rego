package main

import rego.v1

# An array of 10^7 numbers in one builtin call.
deny contains msg if {
	n := count(numbers.range(1, 10000000))
	msg := sprintf("%d numbers", [n])
}
