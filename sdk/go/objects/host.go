package objects

import (
	"context"
	"fmt"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// call makes one op-6 host call. what names the operation in errors
// ("objects: put \"k\": ..."). An answer with no text is an empty
// response: ops that return nothing may leave none.
func call(ctx context.Context, what string, req *wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objects: %s: %w", what, err)
	}
	resp := new(wire.ObjectResponse)
	err := hostcall.CallEncode(hostcall.Object, func(dst []byte) ([]byte, error) {
		return wire.AppendObjectRequest(dst, req), nil
	}, func(answer []byte) error {
		if len(answer) == 0 {
			return nil
		}
		r, err := wire.DecodeObjectResponse(answer)
		if err == nil {
			*resp = *r
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("objects: %s: %w", what, err)
	}
	return resp, nil
}
