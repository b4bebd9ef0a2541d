//go:build !unix

package config

// SetPrivateUmask does nothing where there is no umask; file modes there
// come from the directory's access control.
func SetPrivateUmask() {}
