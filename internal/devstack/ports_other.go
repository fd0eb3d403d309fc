//go:build !linux

package devstack

// listenerOwner is only known on Linux (from /proc).
func listenerOwner(int) (pid int, cmdline string, ok bool) { return 0, "", false }
