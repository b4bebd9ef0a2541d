package instrument

import "fmt"

// loopCheck is the code inserted before every back edge (see
// Options.Interrupt). It leaves the operand stack as it found it, so it is
// valid anywhere, also before a br_if whose condition is on the stack.
func loopCheck(interrupt, countdown uint32) []byte {
	b := appendU32([]byte{0x23}, countdown) // global.get $countdown
	b = append(b, 0x41, 0x01, 0x6b, 0x24)   // i32.const 1; i32.sub; global.set
	b = appendU32(b, countdown)
	b = appendU32(append(b, 0x23), countdown)   // global.get $countdown
	b = append(b, 0x41, 0x00, 0x4c, 0x04, 0x40, // i32.const 0; i32.le_s; if
		0x41, 0x00, 0x40, 0x00, 0x1a, // i32.const 0; memory.grow 0; drop
		0x23) // global.get $interrupt
	b = appendU32(b, interrupt)
	b = append(b, 0x04, 0x40, 0x00, 0x0b, 0x41) // if; unreachable; end; i32.const
	b = appendS32(b, CheckInterval)
	b = appendU32(append(b, 0x24), countdown) // global.set $countdown
	return append(b, 0x0b)                    // end
}

// rewriteCode walks every function body and, with interrupt, inserts the
// check after each loop's block type. Body sizes and the section size are
// re-encoded by the caller (the section) and here (the bodies).
func rewriteCode(r *reader, funcs uint32, interrupt bool, info *Info) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n != funcs {
		return nil, r.errorf("code section has %d bodies, function section declares %d", n, funcs)
	}
	var check []byte
	if interrupt {
		check = loopCheck(info.InterruptGlobal, info.CountdownGlobal)
	}
	out := appendU32(make([]byte, 0, len(r.b)+len(r.b)/8), n)
	var inserts []int
	var body []byte
	for i := range n {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		start := r.off
		raw, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		br := &reader{b: raw, base: r.base + start}
		if err := readLocals(br); err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		inserts = inserts[:0]
		info.branches = 0
		if err := walkExpr(br, &inserts, info); err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		if info.branches > info.MaxFunctionBranches {
			info.MaxFunctionBranches, info.MaxBranchesFunc = info.branches, int(i)
		}
		if !br.done() {
			return nil, fmt.Errorf("function body %d: %w", i, br.errorf("bytes after the final end"))
		}
		info.Checks += len(inserts)
		if !interrupt || len(inserts) == 0 {
			out = appendU32(out, size)
			out = append(out, raw...)
			continue
		}
		body = body[:0]
		prev := 0
		for _, at := range inserts {
			body = append(body, raw[prev:at]...)
			body = append(body, check...)
			prev = at
		}
		body = append(body, raw[prev:]...)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.done() {
		return nil, r.errorf("trailing bytes in code section")
	}
	return out, nil
}

func readLocals(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	var total uint64
	for range n {
		c, err := r.u32()
		if err != nil {
			return err
		}
		total += uint64(c)
		if total > 50000 { // the limit engines share (wazero and V8 use 50,000)
			return fmt.Errorf("%w: more than 50000 locals", ErrUnsupported)
		}
		if _, err := readValType(r); err != nil {
			return err
		}
	}
	return nil
}

// unsupported names the feature behind an opcode the walker rejects.
func unsupported(op byte) error {
	var what string
	switch op {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		what = "exception handling"
	case 0x12, 0x13:
		what = "tail calls"
	case 0x14, 0x15, 0xd3, 0xd4, 0xd5, 0xd6:
		what = "typed function references"
	case 0xfb:
		what = "GC"
	case 0xfd:
		what = "SIMD"
	case 0xfe:
		what = "threads"
	default:
		return fmt.Errorf("%w: opcode 0x%02x", ErrMalformed, op)
	}
	return fmt.Errorf("%w: %s (opcode 0x%02x)", ErrUnsupported, what, op)
}

// walkExpr reads instructions up to and including the end that closes the
// expression. With sites non-nil it appends the offset of every branch
// back to a loop header (br, br_if or br_table with a loop among its
// targets): the interrupt check goes just before it. With info non-nil it
// counts loops and notes instructions that mutate tables or use data
// segments.
//
// Checks sit on back edges rather than at loop headers because Go's wasm
// code opens every function with a loop (its resumption dispatch): a
// check at the header would run on every call, one on the back edge only
// when code actually repeats. Code without back edges runs for a bounded
// time (recursion ends at the stack limit), so back edges suffice.
func walkExpr(r *reader, sites *[]int, info *Info) error {
	// labels holds, for each enclosing block, whether it is a loop.
	var labels []bool
	isLoop := func(l uint32) bool {
		return uint64(l) < uint64(len(labels)) && labels[len(labels)-1-int(l)]
	}
	for {
		at := r.off
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch {
		case op == 0x00, op == 0x01, op == 0x05, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1:
			// unreachable, nop, else, return, drop, select, ref.is_null
		case op == 0x0b: // end
			if len(labels) == 0 {
				return nil
			}
			labels = labels[:len(labels)-1]
		case op == 0x02, op == 0x03, op == 0x04: // block, loop, if
			if err := readBlockType(r); err != nil {
				return err
			}
			labels = append(labels, op == 0x03)
			if info != nil {
				info.branches++
				if op == 0x03 {
					info.Loops++
				}
			}
		case op == 0x0c, op == 0x0d: // br, br_if
			l, err := r.u32()
			if err != nil {
				return err
			}
			if info != nil {
				info.branches++
			}
			if sites != nil && isLoop(l) {
				*sites = append(*sites, at)
			}
		case op == 0x0e: // br_table
			n, err := r.u32()
			if err != nil {
				return err
			}
			if info != nil {
				info.branches++
			}
			back := false
			for i := uint64(0); i <= uint64(n); i++ { // n labels and the default
				l, err := r.u32()
				if err != nil {
					return err
				}
				back = back || isLoop(l)
			}
			if sites != nil && back {
				*sites = append(*sites, at)
			}
		case op == 0x10, // call
			op >= 0x20 && op <= 0x24, // local.get/set/tee, global.get/set
			op == 0xd2:               // ref.func
			if _, err := r.u32(); err != nil {
				return err
			}
		case op == 0x25, op == 0x26: // table.get, table.set
			if _, err := r.u32(); err != nil {
				return err
			}
			if op == 0x26 && info != nil {
				info.MutatesTables = true
			}
		case op == 0x11: // call_indirect: type index, table index
			if _, err := r.u32(); err != nil {
				return err
			}
			if _, err := r.u32(); err != nil {
				return err
			}
		case op == 0x1c: // select t*
			n, err := r.u32()
			if err != nil {
				return err
			}
			for range n {
				if _, err := readValType(r); err != nil {
					return err
				}
			}
		case op >= 0x28 && op <= 0x3e: // loads and stores: memarg
			align, err := r.u32()
			if err != nil {
				return err
			}
			if align&0x40 != 0 { // multi-memory: a memory index follows
				if _, err := r.u32(); err != nil {
					return err
				}
			}
			if _, err := r.u32(); err != nil { // offset
				return err
			}
		case op == 0x3f, op == 0x40: // memory.size, memory.grow: memory index
			if _, err := r.u32(); err != nil {
				return err
			}
		case op == 0x41:
			if _, err := r.signed(32); err != nil {
				return err
			}
		case op == 0x42:
			if _, err := r.signed(64); err != nil {
				return err
			}
		case op == 0x43:
			if _, err := r.bytes(4); err != nil {
				return err
			}
		case op == 0x44:
			if _, err := r.bytes(8); err != nil {
				return err
			}
		case op >= 0x45 && op <= 0xc4: // numeric, no immediates
		case op == 0xd0: // ref.null t
			if err := readRefType(r); err != nil {
				return err
			}
		case op == 0xfc:
			if err := walkFC(r, info); err != nil {
				return err
			}
		default:
			return unsupported(op)
		}
	}
}

// walkFC reads the immediates of a 0xFC-prefixed instruction.
func walkFC(r *reader, info *Info) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	var imms int
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncation
	case 8: // memory.init dataidx memidx
		imms = 2
	case 9: // data.drop dataidx
		imms = 1
	case 10: // memory.copy memidx memidx
		imms = 2
	case 11: // memory.fill memidx
		imms = 1
	case 12: // table.init elemidx tableidx
		imms = 2
	case 13: // elem.drop elemidx
		imms = 1
	case 14: // table.copy tableidx tableidx
		imms = 2
	case 15, 16, 17: // table.grow, table.size, table.fill: tableidx
		imms = 1
	default:
		return fmt.Errorf("%w: instruction 0xfc %d", ErrUnsupported, sub)
	}
	if info != nil {
		switch sub {
		case 8, 9:
			info.UsesDataSegments = true
		case 12, 13, 14, 15, 17:
			info.MutatesTables = true
		}
	}
	for range imms {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// readBlockType reads a block type: empty (0x40), one value type, or a type
// index as a non-negative s33.
func readBlockType(r *reader) error {
	if r.off < len(r.b) {
		switch c := r.b[r.off]; c {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
			r.off++
			return nil
		case 0x7b:
			return fmt.Errorf("%w: v128 block type (SIMD)", ErrUnsupported)
		}
	}
	v, err := r.signed(33)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("%w: block type %d (GC or typed references?)", ErrUnsupported, v)
	}
	return nil
}
