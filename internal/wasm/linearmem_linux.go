//go:build linux

package wasm

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// A snapshotted module's instances map its snapshot copy-on-write. The
// snapshot's memory is written once, at deploy, into a sealed memfd (the
// module's image); each instance reserves its memory limit of address
// space and maps the image over the start of it MAP_PRIVATE. An instance
// then costs the pages it writes (the kernel copies a page at its first
// write; pages only read are the image's, shared by every instance), a
// cold start copies nothing, and resetting an instance to the snapshot is
// one madvise(MADV_DONTNEED): private copies are dropped and the next
// access sees the image again. See docs/RATIONALE.md, "Copy-on-write
// instance memory".

// memImage is a snapshot's linear memory in a sealed memfd.
type memImage struct {
	// mu keeps fd open while an instance maps it: Close waits for
	// mappings in progress, so a number the kernel reuses for another
	// file is never mapped as guest memory.
	mu sync.RWMutex
	fd int // -1 once closed
	// size is how much of the memory the image holds: the snapshot up to
	// its last non-zero wasm page. The rest of the memory is anonymous
	// (zero) pages.
	size uint64
	// reserve is the address space each instance reserves: the module's
	// memory limit, so memory.grow never moves the memory.
	reserve uint64
}

// newMemImage writes snap's memory into a sealed memfd named after the
// module (it shows in /proc/<pid>/maps). reserve is the module's memory
// limit in bytes.
func newMemImage(name string, snap *snapshot, reserve uint64) (*memImage, error) {
	const wasmPage = 64 << 10
	var end uint64
	if n := len(snap.ranges); n > 0 {
		last := snap.ranges[n-1]
		end = (uint64(last.offset) + uint64(len(last.data)) + wasmPage - 1) / wasmPage * wasmPage
	}
	if end > reserve || uint64(snap.pages)*wasmPage > reserve {
		return nil, fmt.Errorf("snapshot of %d pages is larger than the memory limit of %d bytes", snap.pages, reserve)
	}
	fd, err := unix.MemfdCreate(memfdName(name), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	fail := func(what string, err error) (*memImage, error) {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(end)); err != nil {
		return fail("ftruncate", err)
	}
	for _, r := range snap.ranges {
		for data, off := r.data, int64(r.offset); len(data) > 0; {
			n, err := unix.Pwrite(fd, data, off)
			if err != nil {
				return fail("write snapshot", err)
			}
			data, off = data[n:], off+int64(n)
		}
	}
	// Sealed: nothing, not even a bug of ours, can change the image that
	// every instance of the version starts from.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return fail("seal snapshot", err)
	}
	return &memImage{fd: fd, size: end, reserve: reserve}, nil
}

// memfdName is the memfd's name for module name: the kernel keeps 249
// bytes of it.
func memfdName(module string) string {
	name := "strata-snapshot:" + module
	if len(name) > 249 {
		name = name[:249]
	}
	return name
}

// Close closes the image's file. Instances that mapped it keep their
// mappings (and the kernel the file) until they are closed.
func (img *memImage) Close() {
	if img == nil {
		return
	}
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.fd >= 0 {
		_ = unix.Close(img.fd)
		img.fd = -1
	}
}

// newMemory maps a fresh copy-on-write memory of the image: the
// reservation (anonymous, private, MAP_NORESERVE: no commit charge for
// pages never written) with the image mapped private over its start.
func (img *memImage) newMemory() (*cowMemory, error) {
	base, err := unix.MmapPtr(-1, 0, nil, uintptr(img.reserve), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes of guest memory: %w", img.reserve, err)
	}
	buf := unsafe.Slice((*byte)(base), img.reserve)
	// Where transparent huge pages are on for every mapping, a guest's
	// first write would take 2 MiB of the reservation, not 4 KiB.
	_ = unix.Madvise(buf, unix.MADV_NOHUGEPAGE)
	if err := img.mapOver(base); err != nil {
		_ = unix.MunmapPtr(base, uintptr(img.reserve))
		return nil, err
	}
	c := &cowMemory{img: img, buf: buf}
	// An instance dropped without Close (a bug) must not leak its mapping.
	reserve := uintptr(img.reserve)
	c.cleanup = runtime.AddCleanup(c, func(b unsafe.Pointer) { _ = unix.MunmapPtr(b, reserve) }, base)
	return c, nil
}

// mapOver maps the image, private, over the start of the mapping at base.
func (img *memImage) mapOver(base unsafe.Pointer) error {
	if img.size == 0 {
		return nil
	}
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.fd < 0 {
		return errors.New("snapshot image closed (module closed)")
	}
	if _, err := unix.MmapPtr(img.fd, 0, base, uintptr(img.size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		return fmt.Errorf("map snapshot image: %w", err)
	}
	return nil
}

// cowMemory is one instance's linear memory over a memImage. It is both
// the allocator wazero is given for the instance and the memory it
// allocates: mapping can fail, and failing before InstantiateModule gives
// an error where Allocate could only panic.
type cowMemory struct {
	img     *memImage
	buf     []byte // the whole reservation
	max     uint64 // the memory's maximum, from Allocate
	size    uint64 // the largest size handed out: what reset clears
	cleanup runtime.Cleanup
}

var (
	_ experimental.MemoryAllocator = (*cowMemory)(nil)
	_ experimental.LinearMemory    = (*cowMemory)(nil)
)

// Allocate implements experimental.MemoryAllocator: it returns c itself,
// once.
func (c *cowMemory) Allocate(_, max uint64) experimental.LinearMemory {
	c.max = min(max, uint64(len(c.buf)))
	return c
}

// Reallocate implements experimental.LinearMemory: the memory never
// moves; it only gets longer, up to its maximum.
func (c *cowMemory) Reallocate(size uint64) []byte {
	if size > c.max || c.buf == nil {
		return nil
	}
	c.size = max(c.size, size)
	return c.buf[:size:size]
}

// Free implements experimental.LinearMemory: it unmaps the memory.
func (c *cowMemory) Free() {
	if c.buf == nil {
		return
	}
	c.cleanup.Stop()
	_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(c.buf)), uintptr(len(c.buf)))
	c.buf = nil
}

// reset drops every page the instance wrote: the memory reads as the
// image again (its private copies are discarded; the file is the backing
// again) and as zero past it.
func (c *cowMemory) reset() error {
	if c.buf == nil {
		return errors.New("memory freed")
	}
	if c.size == 0 {
		return nil
	}
	if err := unix.Madvise(c.buf[:c.size], unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("madvise: %w", err)
	}
	return nil
}
