//go:build !unix

package cli

import "os"

// tryLock: Strata's server runs on Unix; elsewhere strata dev takes no
// lock (a second dev in a project is not refused).
func tryLock(*os.File) (bool, error) { return true, nil }
