package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratahq/strata/internal/instrument"
)

// A snapshot is a reactor instance's state right after _initialize: its
// linear memory (the non-zero parts) and its mutable globals. Restoring it
// into an instance of a "lean" variant of the module, whose data segments
// are stripped and whose memory starts at the snapshot's size, replaces the
// two costly parts of a Go cold start: the data segment set-up (a Go module
// has tens of thousands of segments) and package init. The idea is that of
// Lambda SnapStart and of Wasmtime's memory images.
//
// Everything the guest learned from the host during init is frozen into the
// snapshot: the environment and arguments (the same for every instance of a
// Module, so harmless), the clock readings and the random seeds of the Go
// runtime (so every instance starts with the same math/rand state; see
// docs/ABI.md). crypto/rand is unaffected: it calls random_get each time.
type snapshot struct {
	pages uint32 // memory size in 64 KiB pages
	// ranges are the non-zero parts of the memory; nil once the module's
	// memImage holds them (Linux), which instances map instead of copying.
	ranges  []memRange
	bytes   int // the size of the non-zero parts
	globals []globalValue
}

type memRange struct {
	offset uint32
	data   []byte
}

type globalValue struct {
	export string
	value  uint64
}

// snapshotChunk is the granularity at which zero memory is skipped.
const snapshotChunk = 4096

// prepareSnapshot takes m's snapshot from an instance of its lean code.
// Any failure rejects the module: _initialize panicked, trapped or ran
// out of memory (*InitError), did not return within Config.InitTimeout
// (ErrOverBudget: every cold start would hang the same way), or ctx ended.
func (m *Module) prepareSnapshot(ctx context.Context) error {
	start := time.Now()
	snap, err := m.takeSnapshot(ctx)
	if err != nil {
		return err
	}
	m.snap = snap
	nranges := len(snap.ranges)
	var img *memImage
	err = errNoImage
	if !m.r.cfg.copySnapshot {
		img, err = newMemImage(m.name, snap, uint64(m.memoryMB)<<20)
	}
	switch {
	case err == nil:
		// The image holds the memory now; the Go heap need not.
		m.img, snap.ranges = img, nil
	case !errors.Is(err, errNoImage):
		m.r.log.WarnContext(ctx, "snapshot copied into each instance (no copy-on-write image)", "module", m.name, "err", err.Error())
	}
	if m.img == nil {
		m.alloc = sizedAllocator(uint64(snap.pages) * (64 << 10))
	}
	m.initTime = time.Since(start)
	m.r.log.InfoContext(ctx, "snapshot taken", "module", m.name, "pages", m.snap.pages,
		"bytes", m.snap.size(), "ranges", nranges, "copy_on_write", m.img != nil, "duration", m.initTime)
	return nil
}

// snapshotMisfit says why a module cannot be snapshotted, from what the
// rewriter found, or "" when it can: the snapshot holds one memory and the
// mutable globals, and is taken by writing the active data segments by
// hand, so anything outside those (tables changed at run time, data
// segments used by code, a start function, offsets that are not
// constants) rules it out.
func snapshotMisfit(info *instrument.Info) string {
	switch {
	case info == nil:
		return "module not instrumented"
	case !info.Exports["strata_handle"] || !info.Exports["_initialize"]:
		return "not a reactor (no strata_handle and _initialize exports)"
	case info.DefinedMemories != 1 || info.ImportedMemories != 0:
		return "module does not define exactly one memory"
	case info.ImportedGlobals != 0:
		return "module imports globals"
	case info.HasStart:
		return "module has a start function"
	case info.MutatesTables:
		return "module code can change its tables, which the snapshot does not hold"
	case info.UsesDataSegments:
		return "module code uses memory.init or data.drop"
	case !info.ActiveConst:
		return "a data segment's offset is not a constant"
	}
	return ""
}

// takeSnapshot instantiates the lean module with m's configuration, writes
// the data segments the rewrite stripped (what instantiating the original
// would have done), runs _initialize and copies the resulting state. The
// guest's output during init is gathered into one message: the error's
// when init fails, else one log record.
func (m *Module) takeSnapshot(ctx context.Context) (*snapshot, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.r.cfg.InitTimeout)
	defer cancel()
	out := &initOutput{}
	cfg := m.withEnv(m.base).WithStdout(out).WithStderr(out).WithStartFunctions()
	mod, err := m.eng.rt.InstantiateModule(ctx, m.entry.cm, cfg)
	if err != nil {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		return nil, &InitError{Module: m.name, Reason: "instantiate: " + firstLine(err.Error())}
	}
	defer mod.Close(context.WithoutCancel(ctx))
	mem := mod.Memory()
	for _, seg := range m.entry.info.Active {
		if !mem.Write(seg.Offset, seg.Data) {
			return nil, &InitError{Module: m.name, Reason: fmt.Sprintf(
				"instantiate: data segment of %d bytes at offset %d is outside the memory's %d bytes",
				len(seg.Data), seg.Offset, mem.Size())}
		}
	}
	intr, err := newInterrupter(mod)
	if err != nil {
		return nil, err
	}
	initialize := mod.ExportedFunction("_initialize")
	if err := intr.call(ctx, func() error { _, err := initialize.Call(ctx); return err }); err != nil {
		switch {
		case parent.Err() != nil:
			return nil, parent.Err()
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, m.initTimeout()
		}
		return nil, m.initError(err, out)
	}
	if text := out.text(); text != "" {
		m.r.log.InfoContext(ctx, "guest output during init", "module", m.name, "text", text)
	}

	snap := &snapshot{}
	for _, g := range m.entry.info.Globals {
		glob := mod.ExportedGlobal(g.Export)
		if glob == nil {
			return nil, fmt.Errorf("global %s not exported", g.Export)
		}
		snap.globals = append(snap.globals, globalValue{export: g.Export, value: glob.Get()})
	}
	size := mem.Size()
	snap.pages = size / (64 << 10)
	buf, ok := mem.Read(0, size)
	if !ok {
		return nil, errors.New("read memory")
	}
	snap.ranges = nonZeroRanges(buf)
	for _, r := range snap.ranges {
		snap.bytes += len(r.data)
	}
	return snap, nil
}

// nonZeroRanges copies the parts of buf that are not all zero, in
// snapshotChunk units, merging neighbours.
func nonZeroRanges(buf []byte) []memRange {
	var ranges []memRange
	var zero [snapshotChunk]byte
	runStart := -1
	flush := func(end int) {
		if runStart >= 0 {
			ranges = append(ranges, memRange{offset: uint32(runStart), data: bytes.Clone(buf[runStart:end])})
			runStart = -1
		}
	}
	for off := 0; off < len(buf); off += snapshotChunk {
		end := min(off+snapshotChunk, len(buf))
		if bytes.Equal(buf[off:end], zero[:end-off]) {
			flush(off)
		} else if runStart < 0 {
			runStart = off
		}
	}
	flush(len(buf))
	return ranges
}

func (s *snapshot) size() int { return s.bytes }

// restore writes the snapshot into a fresh instance of the lean module,
// first growing its memory to the snapshot's size (the lean module starts
// at the original's minimum; Module.alloc reserved the room, so growing
// does not copy). A memory mapped from the module's image already holds
// the snapshot's contents (s.ranges is nil): only the globals are set.
func (s *snapshot) restore(mod api.Module) error {
	mem := mod.Memory()
	if mem == nil {
		return errors.New("lean instance has no memory")
	}
	if have := mem.Size() / (64 << 10); have < s.pages {
		if _, ok := mem.Grow(s.pages - have); !ok {
			return fmt.Errorf("grow memory from %d to the snapshot's %d pages", have, s.pages)
		}
	}
	for _, r := range s.ranges {
		if !mem.Write(r.offset, r.data) {
			return fmt.Errorf("write snapshot range at %d", r.offset)
		}
	}
	return s.restoreGlobals(mod)
}

// restoreGlobals sets the mutable globals to their values in the snapshot.
func (s *snapshot) restoreGlobals(mod api.Module) error {
	for _, g := range s.globals {
		glob, ok := mod.ExportedGlobal(g.export).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("global %s not exported as mutable", g.export)
		}
		glob.Set(g.value)
	}
	return nil
}

// ErrNoReset is returned by Instance.Reset for an instance that cannot be
// reset in place; close it and instantiate a fresh one.
var ErrNoReset = errors.New("instance cannot be reset in place")

// Reset returns a broken or used instance to the state of a cold start
// (the snapshot) without instantiating again: the pages it wrote are
// dropped (its memory maps the module's image again) and the globals are
// set to their snapshot values. It fails with ErrNoReset when the module
// has no copy-on-write image (not snapshotted, or not on Linux), when the
// guest closed the instance (proc_exit) or when its memory grew to more
// than twice the snapshot's; the instance must then be closed.
//
// wazero cannot shrink a memory, so a reset instance whose memory grew
// keeps its size, the part past the snapshot reading zero. The guest's
// allocator, back at its snapshot state, takes that part for memory it
// has not yet asked for, and grows the memory again past its end when it
// needs more (Go's sbrk grows by what it lacks and uses its own break;
// wasi-libc's uses the end memory.grow returns): the space is wasted, not
// misused. Each reset of a grown instance adds its growth again, hence
// the bound. Tables need no reset: a snapshotted module cannot change
// them (snapshotMisfit).
func (i *Instance) Reset() error {
	if i.mem == nil || i.mod == nil {
		return fmt.Errorf("reset %s: %w: no copy-on-write memory", i.m.name, ErrNoReset)
	}
	if i.mod.IsClosed() {
		return fmt.Errorf("reset %s: %w: instance closed", i.m.name, ErrNoReset)
	}
	if pages := i.mod.Memory().Size() / (64 << 10); pages > 2*i.m.snap.pages {
		return fmt.Errorf("reset %s: %w: memory grew from the snapshot's %d pages to %d", i.m.name, ErrNoReset, i.m.snap.pages, pages)
	}
	if err := i.mem.reset(); err != nil {
		return fmt.Errorf("reset %s: %w: %w", i.m.name, ErrNoReset, err)
	}
	if err := i.m.snap.restoreGlobals(i.mod); err != nil {
		return fmt.Errorf("reset %s: %w: %w", i.m.name, ErrNoReset, err)
	}
	i.broken = false
	return nil
}
