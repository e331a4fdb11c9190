package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The demo's last resort is a container run with the docker command (Docker, or Podman with its
// docker command), not a container library: the CLI is meant to be added to other modules as a
// tool, and a library would add the container stack to their go.mod. Each container carries the
// label demoLabel and a name that says whose it is (demoName), so that a later demo removes it
// if this one is killed before it can.
const demoLabel = "org.pgschemas.demo"

// docker runs the docker command and returns its standard output, trimmed.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// dockerHealth returns nil when the docker command reaches a Docker engine.
func dockerHealth(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := docker(ctx, "version", "--format", "{{.Server.Version}}")
	return err
}

// startContainer runs a throwaway PostgreSQL container, published on a free port of 127.0.0.1,
// and waits until it accepts connections. undo removes it.
func startContainer(ctx context.Context, undo *cleanups, out io.Writer) (*demoServer, error) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := demoName("-") + "-" + hex.EncodeToString(b[:])
	fmt.Fprintf(out, "starting a throwaway PostgreSQL container (%s), %s\n", demoImage, name)
	if _, err := docker(ctx, "run", "--detach", "--rm", "--name", name, "--label", demoLabel+"=1",
		"--env", "POSTGRES_HOST_AUTH_METHOD=trust", "--publish", "127.0.0.1::5432", demoImage); err != nil {
		// A run that failed after it created the container still leaves it: remove it too.
		_, _ = docker(context.WithoutCancel(ctx), "rm", "--force", name)
		return nil, fmt.Errorf("start a PostgreSQL container: %w", err)
	}
	undo.add(func(ctx context.Context) error {
		if _, err := docker(ctx, "rm", "--force", name); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed the PostgreSQL container %s\n", name)
		return nil
	})
	addr, err := docker(ctx, "port", name, "5432/tcp")
	if err != nil {
		return nil, err
	}
	addr, _, _ = strings.Cut(addr, "\n") // one line per address family
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("docker port %s: %q: %w", name, addr, err)
	}
	cc, err := pgx.ParseConfig(fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=5", net.JoinHostPort(host, port)))
	if err != nil {
		return nil, err
	}
	// The image's entry point runs the init scripts on a server that listens on no TCP port, then
	// starts the real one: the first connection over TCP is the real server's.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := adminExec(ctx, cc, "SELECT 1")
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("the container %s does not accept connections", name), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return &demoServer{kind: "docker", admin: cc, about: fmt.Sprintf("the throwaway container %s at %s", name, addr)}, nil
}

// removeLeftoverContainers removes the containers of demos that were killed (demoLeftover).
func removeLeftoverContainers(ctx context.Context, out io.Writer) error {
	names, err := docker(ctx, "ps", "--all", "--filter", "label="+demoLabel, "--format", "{{.Names}}")
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range strings.Fields(names) {
		if !demoLeftover(name) {
			continue
		}
		if _, err := docker(ctx, "rm", "--force", name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "removed the container %s, left by a demo that was killed\n", name)
	}
	return errors.Join(errs...)
}
