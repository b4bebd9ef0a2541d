//go:build wasip1

package strata

import (
	"fmt"
	"unsafe"
)

// The strata_v1 host module (docs/ABI.md).

//go:wasmimport strata_v1 request_read
func requestRead(ptr unsafe.Pointer, n int32) int32

//go:wasmimport strata_v1 response_write
func responseWrite(ptr unsafe.Pointer, n int32) int32

// reqBuf is reused between invocations so a warm instance does not allocate
// a fresh request buffer each time.
var reqBuf []byte

// strataHandle is the entry point the host calls once per invocation with
// the length of the encoded request. It returns 0 when a response was
// written and a non-zero code otherwise (see the code constants).
//
//go:wasmexport strata_handle
func strataHandle(reqLen int32) int32 {
	if reqLen < 0 {
		return codeBadRequest
	}
	n := int(reqLen)
	if cap(reqBuf) < n {
		reqBuf = make([]byte, n)
	}
	reqBuf = reqBuf[:n]
	if n > 0 {
		got := requestRead(unsafe.Pointer(&reqBuf[0]), reqLen)
		if got != reqLen {
			fmt.Fprintf(srv.stderr, "strata: request_read returned %d, want %d\n", got, reqLen)
			return codeBadRequest
		}
	}
	resp, code := srv.serve(reqBuf)
	if code != codeOK {
		return code
	}
	if responseWrite(unsafe.Pointer(unsafe.SliceData(resp)), int32(len(resp))) != 0 {
		return codeRejected
	}
	return codeOK
}
