//go:build unix

package wasm

import (
	"testing"
	"unsafe"
)

// A mapped memory grows in place up to its maximum (no copy, so no
// uninterruptible memmove of the whole memory and no garbage left for the
// collector), refuses to grow past it, and is unmapped by Free.
func TestMappedMemoryGrowsInPlace(t *testing.T) {
	const page = 64 << 10
	const max = 2 * heapLimit
	lm := allocateMapped(page, max)
	m := lm.(*mapped)
	first := lm.Reallocate(page)
	if len(first) != page || m.buf != nil {
		t.Fatalf("len %d, mapped %v: a small memory stays on the heap", len(first), m.buf != nil)
	}
	first[0], first[page-1] = 1, 2
	big := lm.Reallocate(heapLimit + page)
	if m.buf == nil || len(big) != heapLimit+page {
		t.Fatal("a memory past heapLimit is not mapped")
	}
	if big[0] != 1 || big[page-1] != 2 || big[heapLimit] != 0 {
		t.Fatal("contents lost when the memory moved to its mapping, or new pages not zero")
	}
	grown := lm.Reallocate(max)
	if len(grown) != max || unsafe.SliceData(grown) != unsafe.SliceData(big) {
		t.Fatal("a mapped memory moved when it grew")
	}
	if lm.Reallocate(max+page) != nil {
		t.Fatal("grew past its maximum")
	}
	lm.Free()
	if m.buf != nil {
		t.Fatal("not unmapped")
	}
	lm.Free() // idempotent
}

// A guest memory is mapped: a reactor instance's memory does not live on
// the Go heap (checked through the allocator wazero was given).
func TestWithLinearMemoryUsesMapping(t *testing.T) {
	ctx := withLinearMemory(t.Context())
	if ctx == t.Context() {
		t.Fatal("no allocator registered on Unix")
	}
}
