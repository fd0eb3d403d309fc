package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Port is an address a process of the stack will listen on, and what for.
type Port struct {
	// Addr is the host:port.
	Addr string
	// Purpose says what the port is for, for people: "the embedded broker".
	Purpose string
}

// PortInUseError is a Port that another process already holds.
type PortInUseError struct {
	Port
	// Owner describes who holds it: "pid 1234 (podium dev)" when /proc tells (Linux),
	// else "another process".
	Owner string
}

func (e *PortInUseError) Error() string {
	_, port, _ := net.SplitHostPort(e.Addr)
	return fmt.Sprintf("port %s (%s, %s) is taken by %s", port, e.Purpose, e.Addr, e.Owner)
}

// CheckPorts listens on every port for a moment and reports, all at once, each one that
// cannot be had: a *PortInUseError naming the process that holds it, or the listen error.
// A port free now may be taken before the stack binds it; it tells people early and
// plainly what stands in the way, it does not reserve anything.
func CheckPorts(ports []Port) error {
	var errs []error
	for _, p := range ports {
		ln, err := net.Listen("tcp", p.Addr)
		if err == nil {
			if err := ln.Close(); err != nil {
				errs = append(errs, fmt.Errorf("releasing %s (%s): %w", p.Addr, p.Purpose, err))
			}
			continue
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			errs = append(errs, fmt.Errorf("listening on %s (%s): %w", p.Addr, p.Purpose, err))
			continue
		}
		owner := "another process"
		if _, portStr, splitErr := net.SplitHostPort(p.Addr); splitErr == nil {
			if port, convErr := strconv.Atoi(portStr); convErr == nil {
				if pid, cmdline, ok := listenerOwner(port); ok {
					owner = "pid " + strconv.Itoa(pid)
					if cmdline != "" {
						owner += " (" + cmdline + ")"
					}
				}
			}
		}
		errs = append(errs, &PortInUseError{Port: p, Owner: owner})
	}
	return errors.Join(errs...)
}

// WaitFile waits until path exists and returns its content without surrounding space, or
// fails when proc exits or ctx ends first. A child that writes a file once it is ready
// (`podium broker --ready-file`) tells its parent so.
func WaitFile(ctx context.Context, path string, proc *Proc) (string, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return strings.TrimSpace(string(b)), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s to write %s: %w", proc.Name, path, ctx.Err())
		case <-proc.Done():
			return "", fmt.Errorf("%s exited: %w", proc.Name, proc.Err())
		case <-tick.C:
		}
	}
}
