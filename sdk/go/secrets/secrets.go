// Package secrets reads the secrets a function's manifest lists under
// secrets: (values are set with `strata secrets set NAME`).
//
//	key, err := secrets.Get(r.Context(), "STRIPE_KEY")
//
// Values are read from the host on every call, so a rotated secret is seen
// without a redeploy; cache one in a variable if a handler reads it often.
// A secret the function does not list, or one never set, is an error with
// the host's message. The package works only inside a Strata function
// (GOOS=wasip1).
package secrets

import (
	"context"
	"fmt"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
)

// Get returns the value of the named secret.
func Get(ctx context.Context, name string) (string, error) {
	b, err := Bytes(ctx, name)
	return string(b), err
}

// Bytes returns the value of the named secret as bytes (for binary keys).
func Bytes(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if name == "" {
		return nil, fmt.Errorf("secret: empty name")
	}
	var v []byte
	// The request is the name and the answer the value, both raw
	// (docs/ABI.md).
	err := hostcall.Call(hostcall.Secret, []byte(name), func(answer []byte) error {
		v = append([]byte{}, answer...)
		return nil
	})
	if err != nil {
		// The host's message names the secret and says what to do;
		// prefixing the name again made it stutter.
		return nil, err
	}
	return v, nil
}
