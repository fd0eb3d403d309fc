package devstack

import (
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// tcpListen is the state of a listening socket in /proc/net/tcp{,6}.
const tcpListen = 0x0A

// listenerOwner finds the process listening on TCP port, best effort: the socket's inode
// from /proc/net/tcp and /proc/net/tcp6, then the process holding a descriptor to it in
// /proc/*/fd. It returns the pid and the command line (empty when unreadable); ok is false
// when no readable process holds it (e.g. another user's, without privileges).
func listenerOwner(port int) (pid int, cmdline string, ok bool) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, "", false
	}
	sockets := map[string]bool{}
	for _, read := range []func() (procfs.NetTCP, error){fs.NetTCP, fs.NetTCP6} {
		lines, err := read()
		if err != nil {
			continue
		}
		for _, l := range lines {
			if l.St == tcpListen && l.LocalPort == uint64(port) {
				sockets["socket:["+strconv.FormatUint(l.Inode, 10)+"]"] = true
			}
		}
	}
	if len(sockets) == 0 {
		return 0, "", false
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return 0, "", false
	}
	for _, p := range procs {
		targets, err := p.FileDescriptorTargets()
		if err != nil {
			continue // another user's process, or gone
		}
		for _, t := range targets {
			if sockets[t] {
				args, _ := p.CmdLine()
				cmdline := strings.Join(strings.Fields(strings.Join(args, " ")), " ") // one line
				if r := []rune(cmdline); len(r) > 200 {
					cmdline = string(r[:200]) + "…"
				}
				return p.PID, cmdline, true
			}
		}
	}
	return 0, "", false
}
