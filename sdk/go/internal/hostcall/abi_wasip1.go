//go:build wasip1

package hostcall

import "unsafe"

//go:wasmimport strata_v1 binding_call
func bindingCall(op int32, reqPtr unsafe.Pointer, reqLen int32) int32

//go:wasmimport strata_v1 result_len
func resultLen() int32

//go:wasmimport strata_v1 result_read
func resultRead(ptr unsafe.Pointer, n int32) int32

// keepBuf is the largest result buffer kept between calls; a fetch body
// or a large query result gets a buffer of its own, freed after decoding.
const keepBuf = 64 << 10

var resultBuf []byte

func binding(op Op, req []byte) (int32, []byte) {
	code := bindingCall(int32(op), unsafe.Pointer(unsafe.SliceData(req)), int32(len(req)))
	return code, Result()
}

// Result reads the result text of the last host call into a buffer that
// is reused by the next call (the caller holds Mu). It is read in place:
// the host writes it straight into this buffer, once.
func Result() []byte {
	n := resultLen()
	if n <= 0 {
		return nil
	}
	var buf []byte
	if int(n) <= cap(resultBuf) {
		buf = resultBuf[:n]
	} else {
		buf = make([]byte, n)
		if n <= keepBuf {
			resultBuf = buf
		}
	}
	got := resultRead(unsafe.Pointer(&buf[0]), n)
	if got <= 0 {
		return nil
	}
	return buf[:got]
}
