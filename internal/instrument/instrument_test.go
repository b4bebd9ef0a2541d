package instrument

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// Hand assembly of small modules. Sizes are LEB128 so bodies may exceed 127
// bytes.

func sec(id byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(appendU32([]byte{id}, uint32(len(b))), b...)
}

func vec(items ...[]byte) []byte {
	return append(appendU32(nil, uint32(len(items))), bytes.Join(items, nil)...)
}

func mod(sections ...[]byte) []byte {
	return append(append([]byte(nil), header...), bytes.Join(sections, nil)...)
}

func fbody(locals []byte, code ...byte) []byte {
	b := append(append([]byte(nil), locals...), code...)
	return append(appendU32(nil, uint32(len(b))), b...)
}

var (
	typeVoid  = sec(secType, vec([]byte{0x60, 0, 0}))
	noLocals  = []byte{0}
	funcs1    = sec(secFunction, vec([]byte{0}))
	exportRun = sec(secExport, vec(append(appendName(nil, "run"), 0x00, 0x00)))
)

func TestLEB128(t *testing.T) {
	u32 := []struct {
		in   []byte
		want uint32
		ok   bool
	}{
		{[]byte{0x00}, 0, true},
		{[]byte{0x7f}, 127, true},
		{[]byte{0x80, 0x01}, 128, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, true}, // padded, still legal
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0xffffffff, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, false}, // 33rd bit
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
		{[]byte{0x80}, 0, false}, // truncated
		{nil, 0, false},
	}
	for _, tc := range u32 {
		r := &reader{b: tc.in}
		v, err := r.u32()
		if !tc.ok {
			require.ErrorIs(t, err, ErrMalformed, "% x", tc.in)
			continue
		}
		require.NoError(t, err, "% x", tc.in)
		require.Equal(t, tc.want, v, "% x", tc.in)
		require.True(t, r.done())
	}
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 1000, 1 << 30, -1 << 31, 1<<31 - 1} {
		r := &reader{b: appendS32(nil, v)}
		got, err := r.signed(32)
		require.NoError(t, err)
		require.Equal(t, int64(v), got)
		require.True(t, r.done())
	}
	for _, v := range []uint32{0, 1, 63, 64, 127, 128, 300, 1 << 20, 0xffffffff} {
		r := &reader{b: appendU32(nil, v)}
		got, err := r.u32()
		require.NoError(t, err)
		require.Equal(t, v, got)
	}

	signed := []struct {
		bits int
		in   []byte
		want int64
		ok   bool
	}{
		{32, []byte{0x00}, 0, true},
		{32, []byte{0x7f}, -1, true},
		{32, []byte{0x3f}, 63, true},
		{32, []byte{0xc0, 0x00}, 64, true},
		{32, []byte{0x80, 0x7f}, -128, true},
		{32, []byte{0xff, 0xff, 0xff, 0xff, 0x07}, 0x7fffffff, true},
		{32, []byte{0x80, 0x80, 0x80, 0x80, 0x78}, -0x80000000, true},
		{32, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0, false}, // 2^32-1 does not fit
		{32, []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 0, false},
		{33, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0xffffffff, true},
		{64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 1<<63 - 1, true},
		{64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, -1 << 63, true},
		{64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, false},
		{64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
		{32, []byte{0x80}, 0, false},
	}
	for _, tc := range signed {
		r := &reader{b: tc.in}
		v, err := r.signed(tc.bits)
		if !tc.ok {
			require.ErrorIs(t, err, ErrMalformed, "s%d % x", tc.bits, tc.in)
			continue
		}
		require.NoError(t, err, "s%d % x", tc.bits, tc.in)
		require.Equal(t, tc.want, v, "s%d % x", tc.bits, tc.in)
	}
}

// The exact bytes of a small rewrite, worked out by hand: a module with
// one imported global and one defined global, and a function with nested
// loops. Checks go before branches back to a loop (br_if 1 to the outer
// loop from inside a block, br_table with a loop among its targets) and
// not before branches to blocks or a loop's fall-through.
func TestInterruptExactBytes(t *testing.T) {
	imp := sec(secImport, vec(append(append(appendName(appendName(nil, "env"), "g"), 0x03), 0x7f, 0x00)))
	glob := sec(secGlobal, vec([]byte{0x7e, 0x01, 0x42, 0x05, 0x0b})) // mut i64 = 5
	mem := sec(secMemory, vec([]byte{0x00, 0x01}))
	code := func(check []byte) []byte {
		var c []byte
		c = append(c, 0x03, 0x40) // loop $outer
		c = append(c, 0x02, 0x40) // block
		c = append(c, 0x41, 0x01) // i32.const 1
		c = append(c, check...)
		c = append(c, 0x0d, 0x01)                   // br_if 1 ($outer: back edge)
		c = append(c, 0x41, 0x00, 0x0d, 0x00, 0x0b) // i32.const 0; br_if 0 (the block); end
		c = append(c, 0x03, 0x7f)                   // loop $inner (result i32)
		c = append(c, 0x41, 0x00, 0x41, 0x00)       // i32.const 0; i32.const 0
		c = append(c, check...)
		c = append(c, 0x0e, 0x01, 0x00, 0x02)       // br_table $inner $outer... default 2 (function)
		c = append(c, 0x0b, 0x1a, 0x0b)             // end; drop; end
		c = append(c, 0x02, 0x00, 0x0c, 0x00, 0x0b) // block (type 0) br 0 end
		return append(c, 0x0b)
	}
	in := mod(typeVoid, imp, funcs1, mem, glob, exportRun, sec(secCode, vec(fbody(noLocals, code(nil)...))))
	out, info, err := Rewrite(in, Options{Interrupt: true})
	require.NoError(t, err)
	require.Equal(t, uint32(2), info.InterruptGlobal, "after 1 imported + 1 defined")
	require.Equal(t, uint32(3), info.CountdownGlobal)
	require.Equal(t, 2, info.Loops)
	require.Equal(t, 2, info.Checks)

	check := []byte{
		0x23, 0x03, 0x41, 0x01, 0x6b, 0x24, 0x03, // countdown--
		0x23, 0x03, 0x41, 0x00, 0x4c, 0x04, 0x40, // if countdown <= 0
		0x41, 0x00, 0x40, 0x00, 0x1a, // drop(memory.grow(0))
		0x23, 0x02, 0x04, 0x40, 0x00, 0x0b, // if interrupt { unreachable }
		0x41, 0xe8, 0x07, 0x24, 0x03, // countdown = 1000
		0x0b,
	}
	expected := mod(typeVoid, imp, funcs1, mem,
		sec(secGlobal, vec([]byte{0x7e, 0x01, 0x42, 0x05, 0x0b}, []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}, []byte{0x7f, 0x01, 0x41, 0xe8, 0x07, 0x0b})),
		sec(secExport, vec(append(appendName(nil, "run"), 0x00, 0x00),
			append(appendName(nil, InterruptExport), 0x03, 0x02), append(appendName(nil, CountdownExport), 0x03, 0x03))),
		sec(secCode, vec(fbody(noLocals, code(check)...))))
	require.Equal(t, expected, out)

	// Instrumenting twice is refused rather than adding a second global.
	_, _, err = Rewrite(out, Options{Interrupt: true})
	require.ErrorIs(t, err, ErrUnsupported)
}

// A module without global and export sections gets both, in the right
// place (before the code section), and custom sections survive.
func TestInterruptCreatesSections(t *testing.T) {
	custom := sec(secCustom, appendName(nil, "name"), []byte{1, 2, 3})
	body := fbody([]byte{1, 2, 0x7f}, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b) // 2 i32 locals; loop; br 0; end
	mem := sec(secMemory, vec([]byte{0x00, 0x01}))
	in := mod(custom, typeVoid, funcs1, mem, sec(secCode, vec(body)), custom)
	out, info, err := Rewrite(in, Options{Interrupt: true})
	require.NoError(t, err)
	require.Equal(t, uint32(0), info.InterruptGlobal)
	loop := append(append([]byte{0x03, 0x40}, loopCheck(0, 1)...), 0x0c, 0x00, 0x0b, 0x0b) // check before br 0
	expected := mod(custom, typeVoid, funcs1, mem,
		sec(secGlobal, vec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b}, []byte{0x7f, 0x01, 0x41, 0xe8, 0x07, 0x0b})),
		sec(secExport, vec(append(appendName(nil, InterruptExport), 0x03, 0x00), append(appendName(nil, CountdownExport), 0x03, 0x01))),
		sec(secCode, vec(fbody([]byte{1, 2, 0x7f}, loop...))),
		custom)
	require.Equal(t, expected, out)
}

// Every instruction with immediates the walker knows, in one body; the
// only change must be the check after the loop.
func TestWalkAllImmediates(t *testing.T) {
	code := []byte{
		0x01,                   // nop
		0x02, 0x40, 0x0c, 0x00, // block; br 0
		0x0b,
		0x41, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, // i32.const 0; br_table 0 0 0
		0x0f,       // return
		0x10, 0x00, // call 0
		0x41, 0x00, 0x11, 0x00, 0x00, // call_indirect type 0 table 0
		0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x1b, 0x1a, // select; drop
		0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x1c, 0x01, 0x7f, 0x1a, // select (result i32); drop
		0x20, 0x00, 0x21, 0x00, 0x22, 0x00, 0x1a, // local.get/set/tee
		0x23, 0x00, 0x24, 0x00, // global.get/set
		0x41, 0x00, 0x25, 0x00, 0x26, 0x00, // table.get; table.set
		0x41, 0x00, 0x28, 0x02, 0x80, 0x01, 0x1a, // i32.load align 2 offset 128
		0x41, 0x00, 0x28, 0x42, 0x00, 0x04, 0x1a, // i32.load with a memory index (multi-memory)
		0x41, 0x00, 0x42, 0x00, 0x37, 0x03, 0x00, // i64.store
		0x3f, 0x00, 0x40, 0x00, 0x1a, // memory.size; memory.grow; drop
		0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a, // i64.const min
		0x43, 0, 0, 0x80, 0x3f, 0x1a, // f32.const 1
		0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // f64.const 1
		0x41, 0x01, 0x41, 0x02, 0x6a, 0x45, 0xc0, 0x1a, // add, eqz, extend8_s
		0xd0, 0x70, 0xd1, 0x1a, 0xd2, 0x00, 0x1a, // ref.null func; ref.is_null; ref.func 0
		0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a, // i32.trunc_sat_f32_s
		0xfc, 0x08, 0x00, 0x00, // memory.init 0 0 (operands elided: not type-checked)
		0xfc, 0x09, 0x00, // data.drop
		0xfc, 0x0a, 0x00, 0x00, // memory.copy
		0xfc, 0x0b, 0x00, // memory.fill
		0xfc, 0x0c, 0x00, 0x00, // table.init
		0xfc, 0x0d, 0x00, // elem.drop
		0xfc, 0x0e, 0x00, 0x00, // table.copy
		0xfc, 0x0f, 0x00, 0xfc, 0x10, 0x00, 0xfc, 0x11, 0x00, // table.grow/size/fill
		0x04, 0x7e, 0x42, 0x01, 0x05, 0x42, 0x02, 0x0b, 0x1a, // if (result i64) else end; drop
		0x03, 0x00, // loop (type 0)
		0x0c, 0x00, // br 0
		0x0b,
		0x00, // unreachable
		0x0b,
	}
	in := mod(typeVoid, funcs1, sec(secMemory, vec([]byte{0x00, 0x01})), sec(secCode, vec(fbody(noLocals, code...))))
	out, info, err := Rewrite(in, Options{Interrupt: true})
	require.NoError(t, err)
	require.Equal(t, 1, info.Loops)
	require.Equal(t, 1, info.Checks)
	require.True(t, info.MutatesTables)
	require.True(t, info.UsesDataSegments)
	i := bytes.Index(code, []byte{0x03, 0x00, 0x0c, 0x00, 0x0b}) + 2
	wantCode := append(append(append([]byte(nil), code[:i]...), loopCheck(0, 1)...), code[i:]...)
	require.True(t, bytes.Contains(out, wantCode))

	_, info, err = Rewrite(in, Options{})
	require.NoError(t, err)
	require.Equal(t, 1, info.Loops, "inspection counts loops too")
}

func TestRejects(t *testing.T) {
	code := func(c ...byte) []byte {
		return mod(typeVoid, funcs1, sec(secCode, vec(fbody(noLocals, c...))))
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"not wasm", []byte("hello"), ErrMalformed},
		{"version 2", []byte("\x00asm\x0d\x00\x01\x00"), ErrUnsupported},
		{"truncated section", mod([]byte{secType, 10, 0}), ErrMalformed},
		{"unknown section", mod(sec(42, []byte{0})), ErrMalformed},
		{"sections out of order", mod(funcs1, typeVoid), ErrMalformed},
		{"repeated section", mod(typeVoid, typeVoid), ErrMalformed},
		{"code without functions", mod(typeVoid, sec(secCode, vec(fbody(noLocals, 0x0b)))), ErrMalformed},
		{"missing end", code(0x01), ErrMalformed},
		{"bytes after end", code(0x0b, 0x01), ErrMalformed},
		{"unknown opcode", code(0xc5, 0x0b), ErrMalformed},
		{"SIMD", code(0xfd, 0x0c, 0x0b), ErrUnsupported},
		{"threads", code(0xfe, 0x00, 0x0b), ErrUnsupported},
		{"tail call", code(0x12, 0x00, 0x0b), ErrUnsupported},
		{"try", code(0x06, 0x40, 0x0b, 0x0b), ErrUnsupported},
		{"v128 local", mod(typeVoid, funcs1, sec(secCode, vec(fbody([]byte{1, 1, 0x7b}, 0x0b)))), ErrUnsupported},
		{"v128 block", code(0x02, 0x7b, 0x0b, 0x0b), ErrUnsupported},
		{"0xfc 18", code(0xfc, 0x12, 0x0b), ErrUnsupported},
		{"tag section", mod(sec(secTag, vec([]byte{0, 0}))), ErrUnsupported},
		{"shared memory", mod(sec(secMemory, vec([]byte{0x03, 1, 1}))), ErrUnsupported},
		{"memory64", mod(sec(secMemory, vec([]byte{0x04, 1}))), ErrUnsupported},
		{"bad u32", code(0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0b), ErrMalformed},
		{"loops but no memory", code(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b), ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, info, err := Rewrite(tc.in, Options{Interrupt: true})
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, out)
			require.Nil(t, info)
		})
	}
}

func TestSnapshotRewrites(t *testing.T) {
	mem := sec(secMemory, vec([]byte{0x00, 0x02}))
	glob := sec(secGlobal, vec(
		[]byte{0x7f, 0x01, 0x41, 0x80, 0x01, 0x0b}, // mut i32 = 128 (global 0)
		[]byte{0x7f, 0x00, 0x41, 0x01, 0x0b},       // const i32 (1): not exported
		[]byte{0x7e, 0x01, 0x42, 0x00, 0x0b},       // mut i64 (2)
	))
	data := sec(secData, appendU32(nil, 3),
		[]byte{0x00, 0x41, 0x10, 0x0b, 0x02, 'h', 'i'},  // active, memory 0 implied
		[]byte{0x01, 0x03, 'a', 'b', 'c'},               // passive
		[]byte{0x02, 0x00, 0x41, 0x20, 0x0b, 0x01, 'x'}, // active, explicit memory 0
	)
	dataCount := sec(secDataCount, []byte{3})
	body := fbody(noLocals, 0x0b)
	in := mod(typeVoid, funcs1, mem, glob, exportRun, dataCount, sec(secCode, vec(body)), data)

	out, info, err := Rewrite(in, Options{Interrupt: true, ExportGlobals: true, StripData: true, MinMemoryPages: 70})
	require.NoError(t, err)
	require.Equal(t, []Global{{Index: 0, Type: 0x7f, Export: "strata_g0"}, {Index: 2, Type: 0x7e, Export: "strata_g2"}}, info.Globals)
	require.Equal(t, 3, info.DataSegments)
	require.Equal(t, 2, info.ActiveData)
	require.Equal(t, uint32(2), info.MemoryMinPages)
	require.Equal(t, uint32(3), info.InterruptGlobal)
	require.Equal(t, uint32(4), info.CountdownGlobal)
	// The stripped segments are reported with their constant offsets, so
	// the runtime can write them into a lean instance itself.
	require.True(t, info.ActiveConst)
	require.Equal(t, []DataSegment{{Offset: 0x10, Data: []byte("hi")}, {Offset: 0x20, Data: []byte("x")}}, info.Active)
	require.Equal(t, map[string]bool{"run": true}, info.Exports)

	expected := mod(typeVoid, funcs1,
		sec(secMemory, vec([]byte{0x00, 70})),
		sec(secGlobal, appendU32(nil, 5), glob[3:], []byte{0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0xe8, 0x07, 0x0b}),
		sec(secExport, vec(
			append(appendName(nil, "run"), 0x00, 0x00),
			append(appendName(nil, "strata_g0"), 0x03, 0x00),
			append(appendName(nil, "strata_g2"), 0x03, 0x02),
			append(appendName(nil, InterruptExport), 0x03, 0x03),
			append(appendName(nil, CountdownExport), 0x03, 0x04))),
		dataCount, sec(secCode, vec(body)),
		sec(secData, appendU32(nil, 3), []byte{0x01, 0x00}, []byte{0x01, 0x03, 'a', 'b', 'c'}, []byte{0x01, 0x00}))
	require.Equal(t, expected, out)

	// An offset that is not an i32.const (here a global.get) cannot be
	// written by hand: no segments are reported.
	byGlobal := mod(typeVoid, funcs1, mem, glob, exportRun, sec(secCode, vec(body)),
		sec(secData, appendU32(nil, 2),
			[]byte{0x00, 0x41, 0x10, 0x0b, 0x02, 'h', 'i'},
			[]byte{0x00, 0x23, 0x00, 0x0b, 0x01, 'x'}))
	_, info, err = Rewrite(byGlobal, Options{StripData: true})
	require.NoError(t, err)
	require.False(t, info.ActiveConst)
	require.Empty(t, info.Active)

	// When every segment is active, the stripped module has none left (a
	// runtime keeps state per segment and instance) and a data count of 0.
	allActive := mod(typeVoid, funcs1, mem, exportRun, sec(secDataCount, []byte{2}), sec(secCode, vec(body)),
		sec(secData, appendU32(nil, 2),
			[]byte{0x00, 0x41, 0x10, 0x0b, 0x02, 'h', 'i'},
			[]byte{0x02, 0x00, 0x41, 0x20, 0x0b, 0x01, 'x'}))
	out, info, err = Rewrite(allActive, Options{StripData: true})
	require.NoError(t, err)
	require.Equal(t, []DataSegment{{Offset: 0x10, Data: []byte("hi")}, {Offset: 0x20, Data: []byte("x")}}, info.Active)
	require.Equal(t, mod(typeVoid, funcs1, mem, exportRun, sec(secDataCount, []byte{0}), sec(secCode, vec(body)), sec(secData, []byte{0})), out)
	_, again, err := Rewrite(out, Options{})
	require.NoError(t, err, "the stripped module parses")
	require.Zero(t, again.DataSegments)

	// Memory rewrites need one defined memory.
	_, _, err = Rewrite(mod(typeVoid), Options{StripData: true})
	require.ErrorIs(t, err, ErrUnsupported)
	// A minimum above the declared maximum cannot be.
	_, _, err = Rewrite(mod(sec(secMemory, vec([]byte{0x01, 1, 4}))), Options{MinMemoryPages: 5})
	require.ErrorIs(t, err, ErrUnsupported)
}

// FuzzRewrite checks that no input makes Rewrite panic, and that whatever
// it accepts it turns into a module it can parse again, with the same
// loops and every back edge now preceded by a check.
func FuzzRewrite(f *testing.F) {
	f.Add(mod(typeVoid, funcs1, sec(secMemory, vec([]byte{0x00, 0x01})), sec(secCode, vec(fbody(noLocals, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)))))
	f.Add(mod(typeVoid, funcs1, exportRun, sec(secCode, vec(fbody([]byte{1, 1, 0x7e}, 0x02, 0x40, 0x03, 0x7f, 0x41, 0x00, 0x0b, 0x1a, 0x0b, 0x0b)))))
	f.Add(mod(sec(secMemory, vec([]byte{0x00, 0x01})), sec(secData, vec([]byte{0x00, 0x41, 0x00, 0x0b, 0x01, 'x'}))))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, info, err := Rewrite(in, Options{Interrupt: true, ExportGlobals: true})
		require.Equal(t, orig, in, "input untouched")
		if err != nil {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported), "%v", err)
			return
		}
		again, info2, err := Rewrite(out, Options{})
		require.NoError(t, err, "output must parse")
		require.Equal(t, out, again, "inspection changes nothing")
		require.Equal(t, info.Loops, info2.Loops)
		require.Equal(t, info.DefinedGlobals+2, info2.DefinedGlobals)
		require.Equal(t, info.Checks, checkedSites(t, out, info.InterruptGlobal), "every back edge has a check")
	})
}

// checkedSites walks the code section of an instrumented module and
// counts the back edges; each must be preceded by the check on globals g
// (interrupt) and g+1 (countdown).
func checkedSites(t *testing.T, wasm []byte, g uint32) int {
	sections, err := splitSections(wasm)
	require.NoError(t, err)
	check := loopCheck(g, g+1)
	sites := 0
	for _, s := range sections {
		if s.id != secCode {
			continue
		}
		r := &reader{b: s.body}
		n, err := r.u32()
		require.NoError(t, err)
		for range n {
			size, err := r.u32()
			require.NoError(t, err)
			raw, err := r.bytes(size)
			require.NoError(t, err)
			br := &reader{b: raw}
			require.NoError(t, readLocals(br))
			var at []int
			require.NoError(t, walkExpr(br, &at, nil))
			for _, i := range at {
				require.True(t, bytes.HasSuffix(raw[:i], check), "back edge at %d lacks the check", i)
			}
			sites += len(at)
		}
	}
	return sites
}

// The real test guests (Go reactor, C command) rewrite without error, and
// every loop in them gets its check. The runtime's tests run the results.
func TestRealGuests(t *testing.T) {
	for name, wasm := range map[string][]byte{
		"go hello": wasmtest.Guest(t, wasmtest.Hello),
		"c cgi":    wasmtest.BuildC(t, wasmtest.CGI),
	} {
		t.Run(name, func(t *testing.T) {
			out, info, err := Rewrite(wasm, Options{Interrupt: true, ExportGlobals: true})
			require.NoError(t, err)
			require.Positive(t, info.Checks)
			require.Equal(t, info.Checks, checkedSites(t, out, info.InterruptGlobal))
			require.NotEmpty(t, info.Globals)
			t.Logf("%s: %d -> %d bytes, %s", name, len(wasm), len(out), info.Describe())
		})
	}
}
