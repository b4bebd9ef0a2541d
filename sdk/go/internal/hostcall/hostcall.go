// Package hostcall is the guest half of strata_v1.binding_call and of the
// result text every host call leaves (docs/ABI.md). The binding packages
// (db, kv, fetch, secrets) and package strata share it, so one mutex keeps
// a host call and the read of its result together for all of them.
//
// It owns the bytes crossing the boundary, not their meaning: each binding
// package encodes its own requests and decodes its answers.
package hostcall

import (
	"errors"
	"fmt"
	"sync"
)

// Op is the binding family of a call (binding_call's first argument).
type Op int32

// Binding families.
const (
	SQL    Op = 1
	KV     Op = 2
	Fetch  Op = 3
	Secret Op = 4
	Flow   Op = 5 // durable workflows (wire.FlowRequest)
	Object Op = 6 // durable objects, stubs and WebSocket connections (wire.ObjectRequest)
)

// ErrOutside is what every binding returns when the code does not run
// inside a Strata function (a host build, e.g. in unit tests).
var ErrOutside = errors.New("bindings work only inside a Strata function (built with GOOS=wasip1 GOARCH=wasm, called while handling an invocation)")

// Mu serialises host calls with the reads of their result text, for
// handlers that call bindings or send events from several goroutines.
var Mu sync.Mutex

// Binding is the raw host call: it returns binding_call's code and the
// result text, which is only valid until the next host call (the caller
// holds Mu). Tests outside WebAssembly replace it with a fake host.
var Binding = binding

// Call makes one binding call and hands the answer to decode while the
// answer's buffer is still valid. A refusal or failure comes back as an
// error carrying the host's message.
func Call(op Op, req []byte, decode func(answer []byte) error) error {
	Mu.Lock()
	defer Mu.Unlock()
	return call(op, req, decode)
}

// reqBuf is the request buffer CallEncode reuses (guarded by Mu).
var reqBuf []byte

// CallEncode is Call with the request appended by encode to a buffer
// reused across calls, for the hot SQL path.
func CallEncode(op Op, encode func(dst []byte) ([]byte, error), decode func(answer []byte) error) error {
	Mu.Lock()
	defer Mu.Unlock()
	req, err := encode(reqBuf[:0])
	if err != nil {
		return err
	}
	if cap(req) <= 64<<10 {
		reqBuf = req
	}
	return call(op, req, decode)
}

func call(op Op, req []byte, decode func(answer []byte) error) error {
	code, res := Binding(op, req)
	if code == 0 {
		return decode(res)
	}
	if len(res) == 0 {
		return fmt.Errorf("host call failed with code %d (is it called outside an invocation, e.g. from init?)", code)
	}
	return errors.New(string(res))
}
