//go:build !linux

package wasm

import "github.com/tetratelabs/wazero/experimental"

// Without memfd, a snapshot is copied into each instance's memory
// (snapshot.restore): newMemImage reports that there is no image.

type memImage struct{}

func newMemImage(string, *snapshot, uint64) (*memImage, error) { return nil, errNoImage }

func (*memImage) Close() {}

func (*memImage) newMemory() (*cowMemory, error) { return nil, errNoImage }

type cowMemory struct{ experimental.MemoryAllocator }

func (*cowMemory) Free() {}

func (*cowMemory) reset() error { return errNoImage }
