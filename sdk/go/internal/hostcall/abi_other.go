//go:build !wasip1

package hostcall

func binding(Op, []byte) (int32, []byte) { return -1, []byte(ErrOutside.Error()) }

// Result has no host to read from outside WebAssembly.
func Result() []byte { return nil }
