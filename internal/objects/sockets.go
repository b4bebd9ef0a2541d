package objects

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

func (e *Engine) socketCall(ctx context.Context, l *live, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	return nil, fmt.Errorf("object op %q: %w", req.Op, ErrBadRequest)
}

func (e *Engine) connCall(c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	return nil, fmt.Errorf("object op %q: %w", req.Op, ErrBadRequest)
}

func (e *Engine) hasSockets(k record.ObjectKey) bool { return false }

// Upgrade is replaced when the hub lands.
func (e *Engine) Upgrade(w http.ResponseWriter, r *http.Request, res *Result) error {
	return fmt.Errorf("WebSockets are not available on this node")
}
