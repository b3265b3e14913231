package main

import rego.v1

# 14,000 x 14,000 iterations (196 million): only the time budget ends it.
deny contains "unreachable" if {
	n := count([1 |
		some i in numbers.range(1, 14000)
		some j in numbers.range(1, 14000)
		i + j == 0
	])
	n >= 0
}
