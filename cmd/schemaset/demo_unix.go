//go:build unix

package main

import "syscall"

// demoProcAttr runs a program of the demo's server in a process group of its own, so that a Ctrl-C
// in the terminal reaches the demo only, as the user as when it is not nil.
func demoProcAttr(as *osUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if as != nil {
		attr.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid}
	}
	return attr
}
