//go:build !wasip1

package strata

// hostSend is the host call behind Send and Publish. Outside WebAssembly
// there is no host; tests replace it.
var hostSend = func(topic bool, name string, body, opts []byte) (id, msg string, ok bool) {
	return "", "not running inside a Strata function (build with GOOS=wasip1)", false
}
