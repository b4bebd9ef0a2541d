//go:build unix

package runtime

import (
	"testing"
	"unsafe"
)

// A mapped memory grows in place up to its maximum (no copy, so no
// uninterruptible memmove of the whole memory and no garbage left for the
// collector), refuses to grow past it, and is unmapped by Free.
func TestMappedMemoryGrowsInPlace(t *testing.T) {
	const page = 64 << 10
	lm := allocateMapped(page, 1024*page)
	m, ok := lm.(*mapped)
	if !ok {
		t.Fatalf("allocateMapped returned %T, want *mapped (mmap refused?)", lm)
	}
	first := lm.Reallocate(page)
	if len(first) != page {
		t.Fatalf("len %d, want %d", len(first), page)
	}
	first[0], first[page-1] = 1, 2
	grown := lm.Reallocate(1024 * page)
	if len(grown) != 1024*page || unsafe.SliceData(grown) != unsafe.SliceData(first) {
		t.Fatal("memory moved when it grew")
	}
	if grown[0] != 1 || grown[page-1] != 2 || grown[1024*page-1] != 0 {
		t.Fatal("contents lost or new pages not zero")
	}
	if lm.Reallocate(1025*page) != nil {
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
