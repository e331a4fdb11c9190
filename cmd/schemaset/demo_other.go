//go:build !unix

package main

import "syscall"

// demoProcAttr is the default: serverUser never asks for another user outside unix.
func demoProcAttr(*osUser) *syscall.SysProcAttr { return nil }
