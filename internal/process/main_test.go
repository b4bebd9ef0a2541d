package process_test

import (
	"os"
	"testing"

	"github.com/stratahq/strata/internal/process"
)

// TestMain lets this test binary be a "provided" sandbox's forwarder, as
// the strata binary is.
func TestMain(m *testing.M) {
	if process.IsForwarder() {
		os.Exit(process.Forward())
	}
	os.Exit(m.Run())
}
