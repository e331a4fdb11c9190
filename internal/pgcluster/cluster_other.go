//go:build !unix

package pgcluster

import "syscall"

// procAttr is the default: ServerUser never asks for another user outside unix.
func procAttr(*OSUser) *syscall.SysProcAttr { return nil }
