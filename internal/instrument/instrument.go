package instrument

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// InterruptExport names the interrupt flag that Options.Interrupt
	// adds. To stop the guest, the host sets it to 1 and CountdownExport
	// to 0; the guest traps with `unreachable` at its next back edge.
	InterruptExport = "strata_interrupt"
	// CountdownExport names the loop countdown that Options.Interrupt
	// adds: every branch back to a loop header decrements it, and when it
	// reaches 0 the
	// guest leaves compiled code (memory.grow 0, which wazero runs in Go),
	// checks the interrupt flag and resets the countdown to CheckInterval.
	CountdownExport = "strata_countdown"
	// CheckInterval is how many loop iterations run between two exits to
	// the host. The exits are what let the Go scheduler stop the guest's
	// goroutine for a garbage collection: Go cannot preempt compiled wasm
	// code, so a loop that never left it would stall the whole process.
	CheckInterval = 1000
	// GlobalExportPrefix prefixes the exports Options.ExportGlobals adds:
	// "strata_g7" is global 7.
	GlobalExportPrefix = "strata_g"
)

var (
	// ErrUnsupported means the module uses a feature the rewriter does not
	// handle (SIMD, threads, exceptions, tail calls, memory64, ...), or a
	// rewrite does not apply to it (e.g. stripping data from a module that
	// imports its memory).
	ErrUnsupported = errors.New("unsupported WebAssembly feature")
	// ErrMalformed means the bytes are not a well-formed module.
	ErrMalformed = errors.New("malformed WebAssembly module")
)

// Options selects the rewrites. The zero value changes nothing and only
// inspects the module.
type Options struct {
	// Interrupt adds two mutable i32 globals after all existing ones, the
	// interrupt flag (initially 0, exported as InterruptExport) and the
	// countdown (initially CheckInterval, exported as CountdownExport),
	// and inserts before every branch back to a loop header (br, br_if,
	// br_table with a loop target):
	//
	//	countdown--
	//	if countdown <= 0 {
	//		drop(memory.grow(0)) // leave compiled code
	//		if interrupt { unreachable }
	//		countdown = CheckInterval
	//	}
	//
	// The module must have a memory if it has such branches.
	Interrupt bool
	// ExportGlobals exports every mutable global defined by the module as
	// GlobalExportPrefix+index (the interrupt global excepted).
	ExportGlobals bool
	// StripData turns every active data segment into an empty passive
	// one, or, when every segment is active, removes them all (and sets
	// the data count to 0): a runtime keeps per-instance state for each
	// segment, and a Go module has tens of thousands. The module's memory
	// then starts zeroed.
	StripData bool
	// MinMemoryPages, when above the defined memory's minimum, raises it.
	MinMemoryPages uint32
}

// Global is a global the rewrite exported.
type Global struct {
	Index  uint32 // global index (imported globals first)
	Type   byte   // value type: 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64
	Export string
}

// DataSegment is one active data segment: Data goes to Offset of memory 0.
type DataSegment struct {
	Offset uint32
	Data   []byte
}

// Info describes the module, as found while rewriting it.
type Info struct {
	ImportedGlobals int
	DefinedGlobals  int // before the rewrite
	// InterruptGlobal and CountdownGlobal are the indices of the globals
	// Options.Interrupt adds (CountdownGlobal = InterruptGlobal+1).
	InterruptGlobal uint32
	CountdownGlobal uint32
	// Loops counts the loop instructions, Checks the branches back to a
	// loop header (each got a check with Interrupt).
	Loops  int
	Checks int
	// Globals lists the globals exported by ExportGlobals.
	Globals []Global
	// Memory facts: DefinedMemories counts memories the module defines,
	// ImportedMemories those it imports; MemoryMinPages is the defined
	// memory's minimum before the rewrite.
	DefinedMemories  int
	ImportedMemories int
	MemoryMinPages   uint32
	// HasStart is true when the module has a start function, which runs
	// during instantiation.
	HasStart bool
	// DataSegments counts all data segments, ActiveData the active ones.
	DataSegments int
	ActiveData   int
	// Active holds the active data segments when every one of them is
	// placed by a constant (i32.const) offset into memory 0, in module
	// order; ActiveConst says whether that is so. Writing them into a
	// fresh memory is what instantiation does, which lets the runtime
	// initialise a StripData module by hand. Data aliases the input.
	Active      []DataSegment
	ActiveConst bool
	// Exports are the names the module exported before the rewrite.
	Exports map[string]bool
	// MutatesTables is true when some code can change a table at run time
	// (table.set, table.grow, table.fill, table.copy, table.init,
	// elem.drop). UsesDataSegments is true for memory.init or data.drop.
	MutatesTables    bool
	UsesDataSegments bool
	// MaxFunctionBranches is the most control instructions (block, loop,
	// if, br, br_if, br_table) in one function body, and MaxBranchesFunc
	// that function's index among the defined functions. Compile time in
	// an optimising compiler grows faster than linearly with it, so the
	// runtime refuses modules far above what compilers emit.
	MaxFunctionBranches int
	MaxBranchesFunc     int
	branches            int // in the body being walked
}

// Interrupt returns wasm with the interrupt checks added (Options.Interrupt).
func Interrupt(wasm []byte) ([]byte, error) {
	out, _, err := Rewrite(wasm, Options{Interrupt: true})
	return out, err
}

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// order is each known section's rank in the order the binary format
// requires (the tag section, from the exception proposal, sits between
// memory and global).
var order = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

type section struct {
	id   byte
	body []byte
	off  int // offset of body in the input, for error messages
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Rewrite applies opts to wasm and returns the new module and what it found.
// The input is not modified. On error the output is nil and the error wraps
// ErrMalformed or ErrUnsupported.
func Rewrite(wasm []byte, opts Options) ([]byte, *Info, error) {
	if !bytes.HasPrefix(wasm, header[:4]) {
		return nil, nil, fmt.Errorf("%w: no \\0asm magic", ErrMalformed)
	}
	if !bytes.HasPrefix(wasm, header) {
		return nil, nil, fmt.Errorf("%w: binary version other than 1 (a component?)", ErrUnsupported)
	}
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, nil, err
	}

	info := &Info{ActiveConst: true}
	var funcs uint32
	haveFuncs, haveCode := false, false
	exportNames := map[string]bool{}
	var globalTypes []globalType // defined globals

	// First pass: facts needed before rewriting (global counts, exports).
	for _, s := range sections {
		r := &reader{b: s.body, base: s.off}
		switch s.id {
		case secImport:
			if err := readImports(r, info); err != nil {
				return nil, nil, err
			}
		case secFunction:
			if funcs, err = r.u32(); err != nil {
				return nil, nil, err
			}
			haveFuncs = true
		case secMemory:
			if err := readMemories(r, info); err != nil {
				return nil, nil, err
			}
		case secGlobal:
			if globalTypes, err = readGlobals(r); err != nil {
				return nil, nil, err
			}
			info.DefinedGlobals = len(globalTypes)
		case secExport:
			if err := readExports(r, exportNames); err != nil {
				return nil, nil, err
			}
		case secStart:
			info.HasStart = true
		case secTag:
			return nil, nil, fmt.Errorf("%w: exception handling (tag section)", ErrUnsupported)
		}
	}
	if opts.Interrupt && (exportNames[InterruptExport] || exportNames[CountdownExport]) {
		return nil, nil, fmt.Errorf("%w: module already exports %q (instrumented twice?)", ErrUnsupported, InterruptExport)
	}
	if (opts.StripData || opts.MinMemoryPages > 0) && (info.DefinedMemories != 1 || info.ImportedMemories != 0) {
		return nil, nil, fmt.Errorf("%w: memory rewrite needs exactly one defined memory (module defines %d, imports %d)",
			ErrUnsupported, info.DefinedMemories, info.ImportedMemories)
	}
	info.Exports = exportNames
	info.InterruptGlobal = uint32(info.ImportedGlobals + info.DefinedGlobals)
	info.CountdownGlobal = info.InterruptGlobal + 1

	var newExports []byte
	exportCount := 0
	if opts.ExportGlobals {
		for i, g := range globalTypes {
			if !g.mutable {
				continue
			}
			idx := uint32(info.ImportedGlobals + i)
			name := GlobalExportPrefix + strconv.FormatUint(uint64(idx), 10)
			if exportNames[name] {
				return nil, nil, fmt.Errorf("%w: module already exports %q", ErrUnsupported, name)
			}
			info.Globals = append(info.Globals, Global{Index: idx, Type: g.typ, Export: name})
			newExports = append(appendName(newExports, name), 0x03)
			newExports = appendU32(newExports, idx)
			exportCount++
		}
	}
	var newGlobal []byte
	newGlobals := 0
	if opts.Interrupt {
		newExports = append(appendName(newExports, InterruptExport), 0x03)
		newExports = appendU32(newExports, info.InterruptGlobal)
		newExports = append(appendName(newExports, CountdownExport), 0x03)
		newExports = appendU32(newExports, info.CountdownGlobal)
		exportCount += 2
		newGlobal = []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // mut i32 = i32.const 0
		newGlobal = append(newGlobal, 0x7f, 0x01, 0x41)
		newGlobal = appendS32(newGlobal, CheckInterval)
		newGlobal = append(newGlobal, 0x0b)
		newGlobals = 2
	}

	// Second pass: rewrite.
	out := make([]byte, 0, len(wasm)+len(wasm)/16+64)
	out = append(out, header...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// The data section is rewritten first: whether every segment is
	// active (so a stripped module needs none) decides the data count,
	// which comes before the code.
	var dataBody []byte
	for _, sec := range sections {
		if sec.id == secData {
			var err error
			if dataBody, err = rewriteData(&reader{b: sec.body, base: sec.off}, opts.StripData, info); err != nil {
				return nil, nil, err
			}
		}
	}
	noSegments := opts.StripData && info.ActiveData == info.DataSegments
	wroteGlobal, wroteExport := false, false
	// emitMissing writes the global or export section the module lacks,
	// just before the first section that must follow it.
	emitMissing := func(beforeRank int) {
		if !wroteGlobal && newGlobal != nil && beforeRank > order[secGlobal] {
			emit(secGlobal, append([]byte{byte(newGlobals)}, newGlobal...))
			wroteGlobal = true
		}
		if !wroteExport && exportCount > 0 && beforeRank > order[secExport] {
			emit(secExport, append(appendU32(nil, uint32(exportCount)), newExports...))
			wroteExport = true
		}
	}
	for _, s := range sections {
		if s.id != secCustom {
			emitMissing(order[s.id])
		}
		r := &reader{b: s.body, base: s.off}
		switch s.id {
		case secGlobal:
			body := appendU32(nil, uint32(info.DefinedGlobals+newGlobals))
			r.u32() // count, already read in the first pass
			body = append(body, s.body[r.off:]...)
			emit(s.id, append(body, newGlobal...))
			wroteGlobal = true
		case secExport:
			n, _ := r.u32()
			body := appendU32(nil, n+uint32(exportCount))
			body = append(body, s.body[r.off:]...)
			emit(s.id, append(body, newExports...))
			wroteExport = true
		case secMemory:
			if opts.MinMemoryPages > info.MemoryMinPages {
				body, err := raiseMemoryMin(r, opts.MinMemoryPages)
				if err != nil {
					return nil, nil, err
				}
				emit(s.id, body)
			} else {
				emit(s.id, s.body)
			}
		case secCode:
			haveCode = true
			body, err := rewriteCode(r, funcs, opts.Interrupt, info)
			if err != nil {
				return nil, nil, err
			}
			emit(s.id, body)
		case secData:
			if noSegments {
				emit(s.id, []byte{0})
			} else {
				emit(s.id, dataBody)
			}
		case secDataCount:
			if noSegments {
				emit(s.id, []byte{0})
			} else {
				emit(s.id, s.body)
			}
		default:
			emit(s.id, s.body)
		}
	}
	emitMissing(len(order) + 1)
	if opts.Interrupt && info.Checks > 0 && info.DefinedMemories+info.ImportedMemories == 0 {
		return nil, nil, fmt.Errorf("%w: interrupt checks need a memory (for memory.grow 0)", ErrUnsupported)
	}
	if haveFuncs != haveCode && funcs > 0 {
		return nil, nil, fmt.Errorf("%w: function section declares %d functions but there is no code section", ErrMalformed, funcs)
	}
	return out, info, nil
}

// splitSections frames the module into sections, checking that known
// sections appear at most once and in order.
func splitSections(wasm []byte) ([]section, error) {
	r := &reader{b: wasm, off: len(header)}
	var sections []section
	last := 0
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		off := r.off
		body, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		if id != secCustom {
			rank, ok := order[id]
			if !ok {
				return nil, fmt.Errorf("%w: at byte %d: unknown section id %d", ErrMalformed, off, id)
			}
			if rank <= last {
				return nil, fmt.Errorf("%w: at byte %d: section %d out of order or repeated", ErrMalformed, off, id)
			}
			last = rank
		} else {
			// A custom section starts with its name; check it frames.
			cr := &reader{b: body, base: off}
			if _, err := cr.name(); err != nil {
				return nil, err
			}
		}
		sections = append(sections, section{id: id, body: body, off: off})
	}
	return sections, nil
}

// readLimits reads memory or table limits and returns the minimum.
func readLimits(r *reader) (uint32, error) {
	flags, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch flags {
	case 0x00, 0x01:
	case 0x02, 0x03:
		return 0, fmt.Errorf("%w: shared memory (threads)", ErrUnsupported)
	case 0x04, 0x05, 0x06, 0x07:
		return 0, fmt.Errorf("%w: memory64", ErrUnsupported)
	default:
		return 0, r.errorf("limits flags 0x%02x", flags)
	}
	min, err := r.u32()
	if err != nil {
		return 0, err
	}
	if flags == 0x01 {
		max, err := r.u32()
		if err != nil {
			return 0, err
		}
		if max < min {
			return 0, r.errorf("limits maximum %d below minimum %d", max, min)
		}
	}
	return min, nil
}

func readImports(r *reader, info *Info) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		if _, err := r.name(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00: // function: type index
			if _, err := r.u32(); err != nil {
				return err
			}
		case 0x01: // table: reference type, limits
			if err := readRefType(r); err != nil {
				return err
			}
			if _, err := readLimits(r); err != nil {
				return err
			}
		case 0x02:
			if _, err := readLimits(r); err != nil {
				return err
			}
			info.ImportedMemories++
		case 0x03:
			if _, err := readGlobalType(r); err != nil {
				return err
			}
			info.ImportedGlobals++
		case 0x04:
			return fmt.Errorf("%w: tag import (exception handling)", ErrUnsupported)
		default:
			return r.errorf("import kind 0x%02x", kind)
		}
	}
	if !r.done() {
		return r.errorf("trailing bytes in import section")
	}
	return nil
}

func readMemories(r *reader, info *Info) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := range n {
		min, err := readLimits(r)
		if err != nil {
			return err
		}
		if i == 0 {
			info.MemoryMinPages = min
		}
		info.DefinedMemories++
	}
	if !r.done() {
		return r.errorf("trailing bytes in memory section")
	}
	return nil
}

// raiseMemoryMin rewrites a one-memory section with a new minimum.
func raiseMemoryMin(r *reader, pages uint32) ([]byte, error) {
	if _, err := r.u32(); err != nil { // count, 1 (checked by the caller)
		return nil, err
	}
	flags, err := r.byte()
	if err != nil {
		return nil, err
	}
	if _, err := r.u32(); err != nil {
		return nil, err
	}
	body := []byte{1, flags}
	body = appendU32(body, pages)
	if flags == 0x01 {
		max, err := r.u32()
		if err != nil {
			return nil, err
		}
		if pages > max {
			return nil, fmt.Errorf("%w: raise memory minimum to %d pages: above its maximum %d", ErrUnsupported, pages, max)
		}
		body = appendU32(body, max)
	}
	return body, nil
}

type globalType struct {
	typ     byte
	mutable bool
}

func readValType(r *reader) (byte, error) {
	t, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
		return t, nil
	case 0x7b:
		return 0, fmt.Errorf("%w: v128 value type (SIMD)", ErrUnsupported)
	default:
		return 0, fmt.Errorf("%w: value type 0x%02x (GC or typed references?)", ErrUnsupported, t)
	}
}

func readRefType(r *reader) error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	if t != 0x70 && t != 0x6f {
		return fmt.Errorf("%w: reference type 0x%02x", ErrUnsupported, t)
	}
	return nil
}

func readGlobalType(r *reader) (globalType, error) {
	t, err := readValType(r)
	if err != nil {
		return globalType{}, err
	}
	mut, err := r.byte()
	if err != nil {
		return globalType{}, err
	}
	if mut > 1 {
		return globalType{}, r.errorf("global mutability 0x%02x", mut)
	}
	return globalType{typ: t, mutable: mut == 1}, nil
}

func readGlobals(r *reader) ([]globalType, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	var gs []globalType
	for range n {
		g, err := readGlobalType(r)
		if err != nil {
			return nil, err
		}
		if err := walkExpr(r, nil, nil); err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	if !r.done() {
		return nil, r.errorf("trailing bytes in global section")
	}
	return gs, nil
}

func readExports(r *reader, names map[string]bool) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind > 0x03 {
			if kind == 0x04 {
				return fmt.Errorf("%w: tag export (exception handling)", ErrUnsupported)
			}
			return r.errorf("export kind 0x%02x", kind)
		}
		if _, err := r.u32(); err != nil {
			return err
		}
		if names[name] {
			return r.errorf("duplicate export %q", name)
		}
		names[name] = true
	}
	if !r.done() {
		return r.errorf("trailing bytes in export section")
	}
	return nil
}

// rewriteData walks the data section and, with strip, turns active
// segments into empty passive ones so indices (and the data count) stay
// valid. Stripping is safe for memory.init/data.drop on those indices: the
// spec drops active segments after instantiation anyway.
func rewriteData(r *reader, strip bool, info *Info) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for range n {
		start := r.off
		flags, err := r.u32()
		if err != nil {
			return nil, err
		}
		active := false
		var offset []byte // the offset expression of an active segment
		memIndex := uint32(0)
		switch flags {
		case 0:
			active = true
			at := r.off
			if err := walkExpr(r, nil, nil); err != nil {
				return nil, err
			}
			offset = r.b[at:r.off]
		case 1:
		case 2:
			active = true
			if memIndex, err = r.u32(); err != nil {
				return nil, err
			}
			at := r.off
			if err := walkExpr(r, nil, nil); err != nil {
				return nil, err
			}
			offset = r.b[at:r.off]
		default:
			return nil, r.errorf("data segment flags %d", flags)
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		data, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		info.DataSegments++
		if active {
			info.ActiveData++
			if off, ok := constOffset(offset); ok && memIndex == 0 && info.ActiveConst {
				info.Active = append(info.Active, DataSegment{Offset: off, Data: data})
			} else {
				info.ActiveConst, info.Active = false, nil
			}
		}
		if strip && active {
			out = append(out, 0x01, 0x00) // passive, no bytes
		} else {
			out = append(out, r.b[start:r.off]...)
		}
	}
	if !r.done() {
		return nil, r.errorf("trailing bytes in data section")
	}
	return out, nil
}

// constOffset decodes an offset expression of the form i32.const N; end.
func constOffset(expr []byte) (uint32, bool) {
	if len(expr) < 3 || expr[0] != 0x41 || expr[len(expr)-1] != 0x0b {
		return 0, false
	}
	r := &reader{b: expr[1 : len(expr)-1]}
	v, err := r.signed(32)
	if err != nil || !r.done() {
		return 0, false
	}
	return uint32(int32(v)), true
}

// Describe is a one-line summary of info for logs.
func (info *Info) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d loops, %d back edges, %d globals (%d imported), %d data segments (%d active)",
		info.Loops, info.Checks, info.ImportedGlobals+info.DefinedGlobals, info.ImportedGlobals, info.DataSegments, info.ActiveData)
	return b.String()
}
