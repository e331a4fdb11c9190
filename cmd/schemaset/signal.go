package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signalCause is the cause of the run's context when a signal ended it.
type signalCause struct{ sig syscall.Signal }

func (c *signalCause) Error() string { return "received " + signalName(c.sig) }

// notifyContext returns a context that a SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal went
// away) cancels, with the signal as its cause; stop undoes it. It also turns SIGPIPE off: a write
// to a closed stdout or stderr (demo | tee log, then Ctrl-C) then fails with EPIPE instead of
// killing the program before it cleans up.
func notifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		for s := range sigs {
			if sig, ok := s.(syscall.Signal); ok {
				cancel(&signalCause{sig: sig})
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// interruptedBy returns the signal that ended ctx, or 0.
func interruptedBy(ctx context.Context) syscall.Signal {
	if ctx == nil {
		return 0
	}
	var c *signalCause
	if errors.As(context.Cause(ctx), &c) {
		return c.sig
	}
	return 0
}

// interruptedError is the one line a run prints when a signal stopped it: what it had completed.
// Commands return one to say what was done; any other error after a signal becomes one too, since
// it is the signal's doing (every change the engine makes runs in a transaction, which the signal
// rolled back).
type interruptedError struct {
	sig syscall.Signal
	// done says what the command completed; "" says nothing was left half done.
	done string
}

func (e *interruptedError) Error() string {
	s := "interrupted"
	if e.sig != 0 {
		s += " (" + signalName(e.sig) + ")"
	}
	if e.done == "" {
		return s + ": stopped before it finished; the transaction in progress was rolled back"
	}
	return s + ": " + e.done
}

// code is the exit code of a run that the signal stopped, as a shell reports it: 128 + the
// signal's number (130 for Ctrl-C).
func (e *interruptedError) code() int { return 128 + int(e.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("signal %d", int(s))
}
