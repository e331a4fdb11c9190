//go:build !unix

package main

import "io"

// processRuns says yes where the demo cannot tell, so that nothing of a live demo is removed.
func processRuns(pid int) bool { return pid > 0 }

// watchOutput does nothing where the demo cannot poll its output: a signal stops it.
func watchOutput(io.Writer, func()) {}
