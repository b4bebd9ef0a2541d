//go:build wasip1

package strata

import (
	"fmt"
	"unsafe"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
)

// The strata_v1 host module (docs/ABI.md).

//go:wasmimport strata_v1 request_read
func requestRead(ptr unsafe.Pointer, n int32) int32

//go:wasmimport strata_v1 response_write
func responseWrite(ptr unsafe.Pointer, n int32) int32

//go:wasmimport strata_v1 event_send
func eventSend(kind int32, namePtr unsafe.Pointer, nameLen int32, bodyPtr unsafe.Pointer, bodyLen int32,
	optsPtr unsafe.Pointer, optsLen int32) int32

// result_len and result_read are imported by internal/hostcall, shared
// with the binding packages.

// hostSend calls event_send and reads the result text: the event id on
// success, the reason otherwise. The caller holds hostMu.
var hostSend = func(topic bool, name string, body, opts []byte) (id, msg string, ok bool) {
	kind := int32(0)
	if topic {
		kind = 1
	}
	code := eventSend(kind, unsafe.Pointer(unsafe.StringData(name)), int32(len(name)),
		unsafe.Pointer(unsafe.SliceData(body)), int32(len(body)),
		unsafe.Pointer(unsafe.SliceData(opts)), int32(len(opts)))
	text := hostResult()
	if code == 0 {
		return text, "", true
	}
	if text == "" {
		text = fmt.Sprintf("host call failed with code %d (is it called outside an invocation, e.g. from init?)", code)
	}
	return "", text, false
}

// hostResult reads the text the last host call left.
func hostResult() string { return string(hostcall.Result()) }

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
