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
	resp, err := roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("objects: %s: %w", what, err)
	}
	return resp, nil
}

// callf is call with the operation's name formatted only when the call
// fails: on the request path (every storage get and put) the guest does
// not pay fmt for a label it almost never shows.
func callf(ctx context.Context, req *wire.ObjectRequest, format string, args ...any) (*wire.ObjectResponse, error) {
	resp, err := roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("objects: %s: %w", fmt.Sprintf(format, args...), err)
	}
	return resp, nil
}

func roundTrip(ctx context.Context, req *wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
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
		return nil, err
	}
	return resp, nil
}
