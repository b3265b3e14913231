package main

import rego.v1

# Patterns that backtrack catastrophically in PCRE-style engines, on
# 50,000 'a's and a final '!'. regorus uses Rust's regex crate (finite
# automata, linear time): this ends quickly with a result.
s := concat("", array.concat(["a" | some _ in numbers.range(1, 50000)], ["!"]))

deny contains "regex matching is linear" if {
	not regex.match(`^(a+)+$`, s)
	not regex.match(`^(a|aa)+$`, s)
	not regex.match(`^(a|a?)+$`, s)
}
