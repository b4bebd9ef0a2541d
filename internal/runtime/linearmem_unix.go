//go:build unix

package runtime

import (
	goruntime "runtime"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

var mappedMemory experimental.MemoryAllocator = experimental.MemoryAllocatorFunc(allocateMapped)

// mapped is one guest memory: max bytes of anonymous, private address
// space mapped at once (MAP_NORESERVE: no swap or overcommit charge for
// pages never touched), of which the guest sees the first len bytes.
type mapped struct {
	buf     []byte // the whole mapping; the guest sees buf[:size]
	cleanup goruntime.Cleanup
}

func allocateMapped(_, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<32 {
		return &heapMemory{}
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		// Out of address space or refused by the kernel: fall back to the
		// heap rather than fail the instance.
		return &heapMemory{}
	}
	m := &mapped{buf: buf}
	// An instance dropped without Close (a bug) must not leak its mapping.
	m.cleanup = goruntime.AddCleanup(m, func(b []byte) { _ = syscall.Munmap(b) }, buf)
	return m
}

func (m *mapped) Reallocate(size uint64) []byte {
	if m.buf == nil || size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size:size]
}

func (m *mapped) Free() {
	if m.buf == nil {
		return
	}
	m.cleanup.Stop()
	_ = syscall.Munmap(m.buf)
	m.buf = nil
}

// heapMemory is the fallback: a Go slice grown by copying, as wazero does
// without an allocator.
type heapMemory struct{ buf []byte }

func (h *heapMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(h.buf)) {
		nb := make([]byte, size, max(size, uint64(cap(h.buf))*5/4))
		copy(nb, h.buf)
		h.buf = nb
	}
	h.buf = h.buf[:size]
	return h.buf
}

func (h *heapMemory) Free() { h.buf = nil }
