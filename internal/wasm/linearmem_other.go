//go:build !unix

package wasm

import "github.com/tetratelabs/wazero/experimental"

// mappedMemory is nil where mmap is not available: wazero's own growth.
var mappedMemory experimental.MemoryAllocator

// sizedAllocator is nil here: wazero's default allocation.
func sizedAllocator(uint64) experimental.MemoryAllocator { return nil }
