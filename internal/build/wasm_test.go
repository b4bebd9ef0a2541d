package build_test

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// wasmExports lists the names of a module's exports by walking its sections.
// It is deliberately minimal: enough to check what go build produced without
// compiling the module.
func wasmExports(mod []byte) (map[string]byte, error) {
	if len(mod) < 8 || string(mod[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm module")
	}
	if v := binary.LittleEndian.Uint32(mod[4:8]); v != 1 {
		return nil, fmt.Errorf("wasm version %d", v)
	}
	p := mod[8:]
	for len(p) > 0 {
		id := p[0]
		size, n := uleb(p[1:])
		if n == 0 || uint64(len(p)-1-n) < size {
			return nil, errors.New("truncated section")
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		if id != 7 { // export section
			continue
		}
		count, n := uleb(body)
		body = body[n:]
		exports := map[string]byte{}
		for range count {
			l, n := uleb(body)
			if n == 0 || uint64(len(body)-n) < l+1 {
				return nil, errors.New("truncated export")
			}
			name := string(body[n : n+int(l)])
			kind := body[n+int(l)]
			body = body[n+int(l)+1:]
			_, n = uleb(body)
			if n == 0 {
				return nil, errors.New("truncated export index")
			}
			body = body[n:]
			exports[name] = kind
		}
		return exports, nil
	}
	return map[string]byte{}, nil
}

func uleb(p []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(p) && i < 10; i++ {
		v |= uint64(p[i]&0x7f) << (7 * i)
		if p[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
