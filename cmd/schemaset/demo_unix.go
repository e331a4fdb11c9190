//go:build unix

package main

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// processRuns reports whether the process pid exists (a zombie counts: its parent has yet to reap
// it). Where it cannot tell, it says yes, so that nothing of a live demo is removed.
func processRuns(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

// watchOutput calls stop once w, when it is a pipe, has no reader any more: its write end then
// polls as an error. Nothing else tells a demo that waits for Ctrl-C that its output is gone.
func watchOutput(w io.Writer, stop func()) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	fd := int32(f.Fd())
	go func() {
		fds := []unix.PollFd{{Fd: fd}} // no events asked: POLLERR and POLLHUP come anyway
		for {
			n, err := unix.Poll(fds, -1)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				return
			case n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0:
				stop()
				return
			}
		}
	}()
}
