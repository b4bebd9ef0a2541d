package wasm

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero/experimental"
)

// Large guest linear memories are mapped outside the Go heap (on Unix).
// wazero's default grows a memory with append, which copies the whole
// memory to a new Go allocation and leaves the old one for the collector; a
// guest allocating towards a 1 GiB limit copies several GiB that way, in
// copies no interrupt can cut short, and the discarded copies keep the heap
// (and resident set) high until a collection. Here a memory stays a Go
// slice up to heapLimit (cold starts stay as fast as before), and past it
// moves once into a mapping of its whole limit, where memory.grow only
// lengthens the slice; closing the instance unmaps it at once. Measured by
// BenchmarkTimeoutOvershootUnderMemoryPressure (issue 9, Found 6; numbers
// in docs/RATIONALE.md).

// withLinearMemory returns ctx with the mapped-memory allocator for
// InstantiateModule, or ctx unchanged where mapping is not available.
func withLinearMemory(ctx context.Context) context.Context {
	if mappedMemory == nil {
		return ctx
	}
	return experimental.WithMemoryAllocator(ctx, mappedMemory)
}

// withAllocator is withLinearMemory with a module's own allocator (a
// snapshotted module's sizedAllocator) when it has one.
func withAllocator(ctx context.Context, alloc experimental.MemoryAllocator) context.Context {
	if alloc == nil {
		return withLinearMemory(ctx)
	}
	return experimental.WithMemoryAllocator(ctx, alloc)
}

// errNoImage is newMemImage's answer where the platform has no memfd: the
// snapshot is copied into each instance instead (linearmem_linux.go).
var errNoImage = errors.New("copy-on-write snapshot images need Linux")
