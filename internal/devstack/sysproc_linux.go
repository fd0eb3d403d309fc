package devstack

import "syscall"

// sysProcAttr puts a child in its own process group (so a terminal's Ctrl-C reaches only
// the parent, which stops children in order) and kills it if the parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
