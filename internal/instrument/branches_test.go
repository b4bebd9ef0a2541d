package instrument

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// Info counts control instructions per function body, for the runtime's
// refusal of functions that would take minutes to compile.
func TestMaxFunctionBranches(t *testing.T) {
	// Each loop of the bomb is a loop and a br_if.
	_, info, err := Rewrite(wasmtest.CompileBomb(100, false), Options{})
	require.NoError(t, err)
	require.Equal(t, 200, info.MaxFunctionBranches)
	require.Equal(t, 0, info.MaxBranchesFunc)

	// The reactor's two functions: a loop with a br_if, and nothing.
	_, info, err = Rewrite(wasmtest.InitLoop(5), Options{Interrupt: true})
	require.NoError(t, err)
	require.Equal(t, 2, info.MaxFunctionBranches)
}
