package states

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ErrInvalidToken is returned for a string that is not a task token.
var ErrInvalidToken = errors.New("states: invalid task token")

// SendTaskSuccess completes the Task that handed out token with output
// (any value that encodes as JSON) as its result.
func SendTaskSuccess(ctx context.Context, token string, output any) error {
	b, err := json.Marshal(output)
	if err != nil {
		return fmt.Errorf("states: encode output: %w", err)
	}
	return send(ctx, token, wire.TaskSignal, wire.TaskOutcome{Output: b})
}

// SendTaskFailure fails the Task that handed out token with error and
// cause, which the state's Retry and Catch match as any Task error.
func SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	if errName == "" {
		errName = "States.TaskFailed"
	}
	return send(ctx, token, wire.TaskSignal, wire.TaskOutcome{Error: errName, Cause: cause})
}

// SendTaskHeartbeat tells a Task with HeartbeatSeconds that its work goes
// on.
func SendTaskHeartbeat(ctx context.Context, token string) error {
	return send(ctx, token, wire.TaskHeartbeatSignal, time.Now().UTC())
}

func send(ctx context.Context, token string, signal func(string) string, value any) error {
	execution, key, ok := wire.ParseTaskToken(token)
	if !ok {
		return ErrInvalidToken
	}
	if err := flow.Signal(ctx, execution, signal(key), value); err != nil {
		return fmt.Errorf("states: %w", err)
	}
	return nil
}
