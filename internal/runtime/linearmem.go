package runtime

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// Guest linear memories are mapped outside the Go heap (on Unix): the
// whole limit is reserved as address space when an instance starts, pages
// are committed by the kernel only when the guest touches them, and
// memory.grow only lengthens the slice. wazero's default grows a memory
// with append, which copies the whole memory to a new Go allocation and
// leaves the old one for the collector; a guest allocating towards a
// 1 GiB limit copies several GiB that way, in copies no interrupt can cut
// short, and the discarded copies keep the heap (and resident set) high
// until a collection. Measured by BenchmarkTimeoutOvershootUnderMemoryPressure
// (issue 9, Found 6): timeouts overshot by up to 1.4 s under four such
// guests before. Closing an instance unmaps its memory at once.

// withLinearMemory returns ctx with the mapped-memory allocator for
// InstantiateModule, or ctx unchanged where mapping is not available.
func withLinearMemory(ctx context.Context) context.Context {
	if mappedMemory == nil {
		return ctx
	}
	return experimental.WithMemoryAllocator(ctx, mappedMemory)
}
