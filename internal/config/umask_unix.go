//go:build unix

package config

import "syscall"

// SetPrivateUmask sets the process umask to PrivateUmask (process-wide:
// a server process creates nothing meant for other users).
func SetPrivateUmask() { syscall.Umask(PrivateUmask) }
