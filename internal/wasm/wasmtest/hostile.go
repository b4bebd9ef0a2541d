package wasmtest

import "crypto/rand"

// Hand-encoded hostile modules for the deploy-bounds tests: they are a few
// hundred bytes to a few hundred kilobytes of regular code, so they are
// written here byte by byte rather than built by a toolchain.

// CompileBomb returns a WASI command (it exports _start) whose one function
// is loops times `loop (br_if 0 (i32.const 0)) end`: valid, harmless to
// run, and slow to compile in wazero's optimising compiler (5 s for 10,000
// loops, over a minute for 12,000 on a quiet machine). With opaque, the
// function also holds a SIMD instruction, which internal/instrument does
// not read, so no check of its shape can refuse it before compiling: only
// the compile budget bounds it. Every call returns different bytes.
func CompileBomb(loops int, opaque bool) []byte {
	body := []byte{0} // no locals
	if opaque {
		body = append(body, 0xfd, 0x0c) // v128.const 0
		body = append(body, make([]byte, 16)...)
		body = append(body, 0x1a) // drop
	}
	for range loops {
		body = append(body, 0x03, 0x40, 0x41, 0x00, 0x0d, 0x00, 0x0b) // loop; i32.const 0; br_if 0; end
	}
	body = append(body, 0x0b)
	// A random custom section makes every bomb new to every compilation
	// cache: an abandoned compile that finishes later stores its code, and
	// the next test must not find it there.
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	m := section(moduleHeader(), 0, append(vecName(nil, "salt"), salt...))
	m = section(m, 1, []byte{1, 0x60, 0, 0})                         // type 0: () -> ()
	m = section(m, 3, []byte{1, 0})                                  // func 0: type 0
	m = section(m, 7, append(vecName([]byte{1}, "_start"), 0x00, 0)) // export _start = func 0
	m = section(m, 10, append(u32(nil, 1), append(u32(nil, uint32(len(body))), body...)...))
	return m
}

// InitLoop returns a reactor (it exports memory, _initialize and
// strata_handle, which answers nothing) whose _initialize counts down from
// iterations to zero; iterations < 0 loops forever.
func InitLoop(iterations int32) []byte {
	var init []byte
	if iterations < 0 {
		init = []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b} // loop; br 0; end; end
	} else {
		init = []byte{1, 1, 0x7f, 0x41} // one i32 local; i32.const
		init = s32(init, iterations)
		init = append(init,
			0x21, 0x00, // local.set 0
			0x03, 0x40, // loop
			0x20, 0x00, 0x41, 0x01, 0x6b, // local.get 0; i32.const 1; i32.sub
			0x22, 0x00, 0x0d, 0x00, // local.tee 0; br_if 0
			0x0b, 0x0b) // end loop; end function
	}
	handle := []byte{0, 0x41, 0x00, 0x0b} // i32.const 0; end
	m := moduleHeader()
	m = section(m, 1, []byte{2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f}) // () -> (); (i32) -> i32
	m = section(m, 3, []byte{2, 0, 1})
	m = section(m, 5, []byte{1, 0x00, 1}) // one memory, min 1 page
	exports := vecName([]byte{3}, "memory")
	exports = append(exports, 0x02, 0)
	exports = vecName(exports, "_initialize")
	exports = append(exports, 0x00, 0)
	exports = vecName(exports, "strata_handle")
	exports = append(exports, 0x00, 1)
	m = section(m, 7, exports)
	code := u32(nil, 2)
	code = append(u32(code, uint32(len(init))), init...)
	code = append(u32(code, uint32(len(handle))), handle...)
	return section(m, 10, code)
}

func moduleHeader() []byte { return []byte{0, 'a', 's', 'm', 1, 0, 0, 0} }

func section(m []byte, id byte, body []byte) []byte {
	m = append(m, id)
	m = u32(m, uint32(len(body)))
	return append(m, body...)
}

func vecName(b []byte, name string) []byte {
	b = u32(b, uint32(len(name)))
	return append(b, name...)
}

// u32 appends v in unsigned LEB128.
func u32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// s32 appends v in signed LEB128.
func s32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
