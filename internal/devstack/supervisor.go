// Package devstack runs podium's processes as separate OS processes under one parent, as
// `podium dev`, the end-to-end tests and the benchmark need: each child is the podium
// binary with a subcommand, its output prefixed with its name, and all of them stopped in
// reverse start order when the parent stops (and, on Linux, killed if the parent dies).
//
// A Supervisor is safe for concurrent use.
package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Supervisor starts and stops child processes.
type Supervisor struct {
	// Binary is the podium executable. Default: the running executable.
	Binary string
	// Output receives every child's output, each line prefixed with "[name] ".
	// Default: os.Stderr.
	Output io.Writer
	// Env is appended to every child's environment.
	Env []string
	// DropEnv lists prefixes of "NAME=value" entries of this process's environment that
	// children do not inherit: "PODIUM_" keeps a shell's deployment settings (brokers, TLS,
	// group IDs) from reaching a stack configured by flags. Env is added after. Default: none.
	DropEnv []string

	mu     sync.Mutex
	outMu  sync.Mutex
	procs  []*Proc
	byName map[string]*Proc
}

// Proc is one running child.
type Proc struct {
	Name string
	Args []string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Proc) Err() error { <-p.done; return p.err }

// Pid is the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Start runs `podium args...` as a child named name. A name already running is an error.
func (s *Supervisor) Start(name string, args ...string) (*Proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName == nil {
		s.byName = make(map[string]*Proc)
	}
	if p, ok := s.byName[name]; ok {
		select {
		case <-p.done:
		default:
			return nil, fmt.Errorf("process %s is already running", name)
		}
	}
	bin := s.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the podium executable: %w", err)
		}
		bin = exe
	}
	out := s.Output
	if out == nil {
		out = os.Stderr
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(s.inherited(), s.Env...)
	cmd.SysProcAttr = sysProcAttr()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, Args: args, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.outMu.Lock()
			fmt.Fprintf(out, "[%s] %s\n", name, sc.Bytes())
			s.outMu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		<-copied
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	s.byName[name] = p
	return p, nil
}

// inherited is the part of this process's environment children get.
func (s *Supervisor) inherited() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(s.DropEnv, func(prefix string) bool { return strings.HasPrefix(kv, prefix) })
	})
}

// Get returns the latest process started under name.
func (s *Supervisor) Get(name string) *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName[name]
}

// Stop sends SIGTERM to the named process and waits up to grace for it to exit, then
// kills it. It returns the process's exit error (nil on a clean exit).
func (s *Supervisor) Stop(name string, grace time.Duration) error {
	p := s.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	return stop(p, grace)
}

// Kill sends SIGKILL to the named process and waits for it to exit.
func (s *Supervisor) Kill(name string) error {
	p := s.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// StopAll stops every running child in reverse start order, each with the grace period.
func (s *Supervisor) StopAll(grace time.Duration) {
	s.mu.Lock()
	procs := append([]*Proc(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		_ = stop(procs[i], grace)
	}
}

func stop(p *Proc, grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s and was killed", p.Name, grace)
	}
}

// WaitTCP waits until addr accepts connections, or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting for %s: %w", addr, ctx.Err()), lastErr)
		case <-tick.C:
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
