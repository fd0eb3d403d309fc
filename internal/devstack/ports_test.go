package devstack

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCheckPorts(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := "127.0.0.1:" + strconv.Itoa(free)

	if err := CheckPorts([]Port{{Addr: freeAddr, Purpose: "a free port"}}); err != nil {
		t.Errorf("a free port: %v", err)
	}

	err = CheckPorts([]Port{{Addr: held.Addr().String(), Purpose: "the thing"}, {Addr: "nonsense", Purpose: "a bad address"}})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("got %v, want a *PortInUseError", err)
	}
	port := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)
	if want := "port " + port + " (the thing, " + held.Addr().String() + ") is taken by "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if want := "listening on nonsense (a bad address)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	wantOwner := "another process"
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/fd"); err == nil {
			wantOwner = "pid " + strconv.Itoa(os.Getpid()) + " ("
		}
	}
	if !strings.HasPrefix(inUse.Owner, wantOwner) {
		t.Errorf("owner: got %q, want it to start with %q", inUse.Owner, wantOwner)
	}
}

func TestWaitFile(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH: the test runs children with it")
	}
	dir := t.TempDir()
	sup := &Supervisor{Binary: sh, Output: &Output{}}
	defer sup.StopAll(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ready := filepath.Join(dir, "ready")
	p, err := sup.Start("writer", "-c", `printf '127.0.0.1:1234\n' > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 60`, ready)
	if err != nil {
		t.Fatal(err)
	}
	got, err := WaitFile(ctx, ready, p)
	if err != nil || got != "127.0.0.1:1234" {
		t.Fatalf("got %q, %v; want 127.0.0.1:1234", got, err)
	}

	p, err = sup.Start("quitter", "-c", "exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WaitFile(ctx, filepath.Join(dir, "never"), p); err == nil || !strings.Contains(err.Error(), "quitter exited") {
		t.Fatalf("got %v, want quitter exited", err)
	}
}

func TestSupervisorDropEnv(t *testing.T) {
	t.Setenv("PODIUM_DROP_ME", "1")
	t.Setenv("KEEP_ME", "1")
	s := &Supervisor{DropEnv: []string{"PODIUM_"}}
	env := s.inherited()
	if slices.Contains(env, "PODIUM_DROP_ME=1") {
		t.Errorf("PODIUM_DROP_ME reached the children")
	}
	if !slices.Contains(env, "KEEP_ME=1") {
		t.Errorf("KEEP_ME did not reach the children")
	}
}
