package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	pages   uint32 // memory size in 64 KiB pages
	ranges  []memRange
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

// prepareSnapshot takes m's snapshot and compiles its lean variant. When
// something does not fit, the module simply cold-starts the normal way and
// the reason is logged. It fails only when _initialize did not return
// within Config.InitTimeout (ErrOverBudget: every cold start would hang
// the same way, so the module is refused) or ctx ended.
func (m *Module) prepareSnapshot(ctx context.Context) error {
	start := time.Now()
	if err := m.trySnapshot(ctx); err != nil {
		if errors.Is(err, ErrOverBudget) || ctx.Err() != nil {
			return err
		}
		m.r.log.InfoContext(ctx, "cold starts run _initialize (no snapshot)", "module", m.name, "reason", err.Error())
		return nil
	}
	m.r.log.InfoContext(ctx, "snapshot taken", "module", m.name, "pages", m.snap.pages,
		"bytes", m.snap.size(), "ranges", len(m.snap.ranges), "duration", time.Since(start))
	return nil
}

func (m *Module) trySnapshot(ctx context.Context) error {
	info := m.entry.info
	switch {
	case info == nil:
		return errors.New("module not instrumented")
	case info.DefinedMemories != 1 || info.ImportedMemories != 0:
		return errors.New("module does not define exactly one memory")
	case info.ImportedGlobals != 0:
		return errors.New("module imports globals")
	case info.HasStart:
		return errors.New("module has a start function")
	case info.MutatesTables:
		return errors.New("module code can change its tables, which the snapshot does not hold")
	case info.UsesDataSegments:
		return errors.New("module code uses memory.init or data.drop")
	}
	snap, err := m.takeSnapshot(ctx)
	if err != nil {
		return err
	}
	lean, _, err := instrument.Rewrite(m.entry.wasm, instrument.Options{
		Interrupt: true, ExportGlobals: true, StripData: true, MinMemoryPages: snap.pages,
	})
	if err != nil {
		return fmt.Errorf("rewrite lean module: %w", err)
	}
	entry, key, err := m.r.acquireVariant(ctx, m.entry.eng, lean)
	if err != nil {
		return fmt.Errorf("compile lean module: %w", err)
	}
	m.snap, m.lean, m.leanKey = snap, entry, key
	return nil
}

// takeSnapshot instantiates the full module with m's configuration, runs
// _initialize and copies the resulting state.
func (m *Module) takeSnapshot(ctx context.Context) (*snapshot, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.r.cfg.InitTimeout)
	defer cancel()
	out := logWriter{log: m.r.log, module: m.name, stream: "stdout (init, snapshot)"}
	errw := logWriter{log: m.r.log, module: m.name, stream: "stderr (init, snapshot)"}
	cfg := m.withEnv(m.base).WithStdout(out).WithStderr(errw).WithStartFunctions()
	mod, err := m.eng.rt.InstantiateModule(ctx, m.entry.cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	intr, err := newInterrupter(mod)
	if err != nil {
		return nil, err
	}
	initialize := mod.ExportedFunction("_initialize")
	if err := intr.call(ctx, func() error { _, err := initialize.Call(ctx); return err }); err != nil {
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &overBudget{msg: fmt.Sprintf("_initialize did not return within the %v init timeout "+
				"(package init or the Go runtime's start loops or blocks); every cold start would hang the same way",
				m.r.cfg.InitTimeout)}
		}
		return nil, fmt.Errorf("_initialize: %w", err)
	}

	snap := &snapshot{}
	for _, g := range m.entry.info.Globals {
		glob := mod.ExportedGlobal(g.Export)
		if glob == nil {
			return nil, fmt.Errorf("global %s not exported", g.Export)
		}
		snap.globals = append(snap.globals, globalValue{export: g.Export, value: glob.Get()})
	}
	mem := mod.Memory()
	size := mem.Size()
	snap.pages = size / (64 << 10)
	buf, ok := mem.Read(0, size)
	if !ok {
		return nil, errors.New("read memory")
	}
	snap.ranges = nonZeroRanges(buf)
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

func (s *snapshot) size() int {
	n := 0
	for _, r := range s.ranges {
		n += len(r.data)
	}
	return n
}

// restore writes the snapshot into a fresh instance of the lean module.
func (s *snapshot) restore(mod api.Module) error {
	mem := mod.Memory()
	if mem == nil || mem.Size() < s.pages*(64<<10) {
		return errors.New("lean instance memory smaller than the snapshot")
	}
	for _, r := range s.ranges {
		if !mem.Write(r.offset, r.data) {
			return fmt.Errorf("write snapshot range at %d", r.offset)
		}
	}
	for _, g := range s.globals {
		glob, ok := mod.ExportedGlobal(g.export).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("global %s not exported as mutable", g.export)
		}
		glob.Set(g.value)
	}
	return nil
}

// acquireVariant compiles (or shares) code derived from a module, such as
// its lean variant, in eng, reference-counted like Compile's entries. The
// key hashes the derived bytes, so it cannot collide with an original.
func (r *Runtime) acquireVariant(ctx context.Context, eng *engine, code []byte) (*compiled, moduleKey, error) {
	key := moduleKey{hash: sha256.Sum256(code), memoryMB: eng.memoryMB}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, key, errors.New("runtime closed")
	}
	entry, found := r.modules[key]
	if !found {
		entry = &compiled{ready: make(chan struct{}), eng: eng, interrupt: true}
		r.modules[key] = entry
	}
	entry.refs++
	r.mu.Unlock()
	if !found {
		entry.cm, entry.err = r.compileBounded(ctx, eng, code, "lean variant")
		close(entry.ready)
	} else {
		select {
		case <-entry.ready:
		case <-ctx.Done():
			r.release(ctx, key, entry)
			return nil, key, ctx.Err()
		}
	}
	if entry.err != nil {
		r.release(ctx, key, entry)
		return nil, key, entry.err
	}
	return entry, key, nil
}
