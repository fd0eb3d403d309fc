//go:build !unix

package workers

import "os"

// lockFile does nothing where flock is unavailable: a FileEffects is then safe within one
// process only.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
