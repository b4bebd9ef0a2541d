//go:build linux

package wasm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// A guest that writes to memory it received copy-on-write changes its own
// copy only: another live instance, a fresh instance and the snapshot
// image still hold what the snapshot holds, and Reset brings the writer
// back to it.
func TestCopyOnWriteIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := internalRuntime(t).Compile(ctx, wasmtest.Guest(t, wasmtest.Hello),
		ModuleSpec{Name: "hello@cow", Env: map[string]string{"GREETING": "from the snapshot"}})
	require.NoError(t, err)
	defer m.Close(ctx)
	require.NotNil(t, m.img, "the snapshot is mapped copy-on-write on Linux")

	handle := func(inst *Instance, query string) string {
		t.Helper()
		resp, err := inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/", RawQuery: query}, Env{})
		require.NoError(t, err)
		return string(resp.Body)
	}
	newInstance := func() *Instance {
		t.Helper()
		inst, err := m.Instantiate(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { inst.Close(ctx) })
		require.NotNil(t, inst.mem)
		return inst
	}
	const original = "env.GREETING=from the snapshot\n"
	a, b := newInstance(), newInstance()

	// The guest writes a Go global (in the snapshot's data pages).
	require.Contains(t, handle(a, "remember=a"), "remembered=a\n")
	require.Contains(t, handle(a, ""), "remembered=a\n", "the instance keeps its own write")
	// Bytes that every instance reads from the shared image (the
	// environment, copied into the Go heap by package init), written in
	// one instance's memory as a guest store would.
	image := make([]byte, m.img.size)
	_, err = unix.Pread(m.img.fd, image, 0)
	require.NoError(t, err)
	needle := []byte("from the snapshot")
	var offsets []int
	for off := 0; ; {
		i := bytes.Index(image[off:], needle)
		if i < 0 {
			break
		}
		offsets = append(offsets, off+i)
		off += i + len(needle)
	}
	require.NotEmpty(t, offsets)
	mem := a.mod.Memory()
	for _, off := range offsets {
		require.True(t, mem.Write(uint32(off), []byte("FROM THE SNAPSHOT")))
	}
	require.Contains(t, handle(a, ""), "env.GREETING=FROM THE SNAPSHOT\n")

	for name, inst := range map[string]*Instance{"live": b, "fresh": newInstance()} {
		body := handle(inst, "")
		require.Contains(t, body, original, name)
		require.NotContains(t, body, "remembered=", name)
	}
	after := make([]byte, m.img.size)
	_, err = unix.Pread(m.img.fd, after, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(image, after), "the image is unchanged")
	// The image is sealed: not even the host can write to it.
	_, err = unix.Pwrite(m.img.fd, []byte("x"), int64(offsets[0]))
	require.Error(t, err)

	// Reset: the writer reads the snapshot again, and serves as before
	// (wazero cannot shrink a memory, so a reset keeps the size it grew to).
	size := a.mod.Memory().Size()
	a.broken = true
	require.NoError(t, a.Reset())
	require.Equal(t, size, a.mod.Memory().Size())
	require.False(t, a.Broken())
	body := handle(a, "")
	require.Contains(t, body, original)
	require.NotContains(t, body, "remembered=")
	require.Contains(t, handle(b, "remember=b"), "remembered=b\n")
	body = handle(a, "")
	require.Contains(t, body, original)
	require.NotContains(t, body, "remembered=")
}

// Reset refuses an instance whose memory grew to more than twice the
// snapshot's (wazero cannot shrink it), that is closed, or that has no
// copy-on-write memory: the caller instantiates afresh.
func TestResetRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := internalRuntime(t).Compile(ctx, wasmtest.Guest(t, wasmtest.Hello), ModuleSpec{Name: "hello@reset-refusals"})
	require.NoError(t, err)
	defer m.Close(ctx)
	inst, err := m.Instantiate(ctx)
	require.NoError(t, err)
	_, ok := inst.mod.Memory().Grow(m.snap.pages)
	require.True(t, ok)
	require.NoError(t, inst.Reset(), "twice the snapshot's pages")
	_, ok = inst.mod.Memory().Grow(1)
	require.True(t, ok)
	require.ErrorIs(t, inst.Reset(), ErrNoReset)
	require.NoError(t, inst.Close(ctx))
	require.ErrorIs(t, inst.Reset(), ErrNoReset)

	copied, err := New(ctx, Config{CacheDir: wasmtest.SharedCacheDir(), copySnapshot: true})
	require.NoError(t, err)
	defer copied.Close(ctx)
	cm, err := copied.Compile(ctx, wasmtest.Guest(t, wasmtest.Hello), ModuleSpec{Name: "hello@reset-copied"})
	require.NoError(t, err)
	defer cm.Close(ctx)
	require.Nil(t, cm.img)
	ci, err := cm.Instantiate(ctx)
	require.NoError(t, err)
	defer ci.Close(ctx)
	require.ErrorIs(t, ci.Reset(), ErrNoReset)
}

// Closing instances unmaps their memory: the process's mappings of the
// module's image go back to none once every instance is closed, and
// closing the module closes the image's file.
func TestCopyOnWriteUnmappedOnClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const name = "hello@cow-unmap"
	m, err := internalRuntime(t).Compile(ctx, wasmtest.Guest(t, wasmtest.Hello), ModuleSpec{Name: name})
	require.NoError(t, err)
	require.NotNil(t, m.img)
	mappings := func() int {
		maps, err := os.ReadFile("/proc/self/maps")
		require.NoError(t, err)
		return strings.Count(string(maps), "memfd:"+memfdName(name))
	}
	require.Zero(t, mappings())
	const n = 20
	var insts []*Instance
	for range n {
		inst, err := m.Instantiate(ctx)
		require.NoError(t, err)
		_, err = inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/"}, Env{})
		require.NoError(t, err)
		insts = append(insts, inst)
	}
	require.Equal(t, n, mappings(), "one mapping of the image per instance")
	for _, inst := range insts {
		require.NoError(t, inst.Close(ctx))
	}
	require.Zero(t, mappings(), "closed instances leave no mapping behind")

	fd := m.img.fd
	require.NoError(t, m.Close(ctx))
	require.Equal(t, -1, m.img.fd)
	_, err = unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	require.ErrorIs(t, err, unix.EBADF, "the image's file is closed with the module")
	_, err = m.img.newMemory()
	require.Error(t, err, "no instance maps a closed image")
}

// A copy-on-write memory grows in place up to its maximum and no further
// (wazero's memory.grow then fails, as at the limit), reads as zero past
// the image, and Free unmaps it.
func TestCowMemoryGrowsInPlace(t *testing.T) {
	const page = 64 << 10
	data := bytes.Repeat([]byte{7}, page)
	img, err := newMemImage("grow-test", &snapshot{pages: 2, ranges: []memRange{{offset: page, data: data}}}, 8*page)
	require.NoError(t, err)
	defer img.Close()
	c, err := img.newMemory()
	require.NoError(t, err)
	lm := c.Allocate(page, 4*page)
	first := lm.Reallocate(2 * page)
	require.Len(t, first, 2*page)
	require.Equal(t, byte(0), first[0])
	require.Equal(t, byte(7), first[page])
	first[page] = 9 // a private copy of the image's page
	grown := lm.Reallocate(4 * page)
	require.Len(t, grown, 4*page)
	require.Same(t, &first[0], &grown[0], "the memory does not move")
	require.Equal(t, byte(9), grown[page])
	require.Equal(t, byte(0), grown[3*page], "zero past the image")
	grown[3*page] = 1
	require.Nil(t, lm.Reallocate(5*page), "past the module's maximum")

	require.NoError(t, c.reset())
	require.Equal(t, byte(7), grown[page], "reset reads the image again")
	require.Equal(t, byte(0), grown[3*page], "and zero past it")
	lm.Free()
	require.Nil(t, c.buf)
	lm.Free() // idempotent
	require.Nil(t, lm.Reallocate(page))
}

// BenchmarkCowMemory is what mapping and unmapping an instance's memory
// costs (the reservation, the image over its start, munmap), without the
// page faults that follow; and what a reset of a memory that wrote n
// pages of the image costs, faults to write them again included.
func BenchmarkCowMemory(b *testing.B) {
	const page = 64 << 10
	data := bytes.Repeat([]byte{7}, 64*page)
	img, err := newMemImage("bench", &snapshot{pages: 64, ranges: []memRange{{offset: 0, data: data}}}, 128<<20)
	require.NoError(b, err)
	defer img.Close()
	b.Run("map+unmap", func(b *testing.B) {
		for b.Loop() {
			c, err := img.newMemory()
			if err != nil {
				b.Fatal(err)
			}
			c.Free()
		}
	})
	for _, pages := range []int{16, 64, 256} { // of 4 KiB
		b.Run(fmt.Sprintf("reset+write-%d-pages", pages), func(b *testing.B) {
			c, err := img.newMemory()
			require.NoError(b, err)
			defer c.Free()
			mem := c.Allocate(0, 128<<20).Reallocate(64 * page)
			for b.Loop() {
				for p := range pages {
					mem[p*4096]++
				}
				if err := c.reset(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
