//go:build !race

package citustest

const race = false
