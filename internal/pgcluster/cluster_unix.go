//go:build unix

package pgcluster

import "syscall"

// procAttr runs a program of a Cluster in a process group of its own, so that a Ctrl-C in the
// terminal reaches the caller only, as the user as when it is not nil.
func procAttr(as *OSUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if as != nil {
		attr.Credential = &syscall.Credential{Uid: as.UID, Gid: as.GID}
	}
	return attr
}
