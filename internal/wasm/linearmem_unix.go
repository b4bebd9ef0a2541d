//go:build unix

package wasm

import (
	"runtime"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

var mappedMemory experimental.MemoryAllocator = experimental.MemoryAllocatorFunc(allocateMapped)

// heapLimit is the size up to which a guest memory stays an ordinary Go
// slice. Most guests never leave it, and a cold start writes its snapshot
// into heap pages that are already faulted in (a fresh mapping costs a
// page fault per 4 KiB: cold starts went from 2.4 to 17 ms when every
// memory was mapped). A memory growing past it is moved, once, into a
// mapping of its whole limit.
const heapLimit = 64 << 20

// mapped is one guest memory: a Go slice while it is small, then max
// bytes of anonymous, private address space mapped at once (MAP_NORESERVE:
// no swap or overcommit charge for pages never touched), of which the
// guest sees the first size bytes.
type mapped struct {
	max     uint64
	heap    []byte // while the memory is at most heapLimit
	buf     []byte // the whole mapping once it is larger
	cleanup runtime.Cleanup
}

func allocateMapped(capHint, max uint64) experimental.LinearMemory {
	return &mapped{max: max, heap: make([]byte, 0, min(capHint, heapLimit))}
}

func (m *mapped) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if m.buf != nil {
		if size > uint64(len(m.buf)) {
			return nil
		}
		return m.buf[:size:size]
	}
	if size <= heapLimit || m.max > 1<<32 {
		if size > uint64(cap(m.heap)) {
			// Grow by a quarter at least, as append does for large slices,
			// so a guest growing a page at a time does not copy every time.
			nb := make([]byte, size, min(max(size, uint64(cap(m.heap))*5/4), max(m.max, size)))
			copy(nb, m.heap)
			m.heap = nb
		}
		m.heap = m.heap[:size]
		return m.heap[:size:size]
	}
	buf, err := syscall.Mmap(-1, 0, int(m.max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		// Out of address space or refused by the kernel: the guest's
		// memory.grow fails, as at its limit.
		return nil
	}
	copy(buf, m.heap)
	m.heap, m.buf = nil, buf
	// An instance dropped without Close (a bug) must not leak its mapping.
	m.cleanup = runtime.AddCleanup(m, func(b []byte) { _ = syscall.Munmap(b) }, buf)
	return m.buf[:size:size]
}

func (m *mapped) Free() {
	m.heap = nil
	if m.buf == nil {
		return
	}
	m.cleanup.Stop()
	_ = syscall.Munmap(m.buf)
	m.buf = nil
}

// sizedAllocator is mappedMemory with room for at least minCap bytes from
// the start: a cold start from a snapshot grows the memory to the
// snapshot's size right after instantiating, and should not copy the
// memory to do it.
func sizedAllocator(minCap uint64) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capHint, limit uint64) experimental.LinearMemory {
		return allocateMapped(min(max(capHint, minCap), limit), limit)
	})
}
