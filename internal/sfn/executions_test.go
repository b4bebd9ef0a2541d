package sfn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/record"
)

// TestExpressLimitTimesOut: an execution that outlives the EXPRESS limit
// ends TIMED_OUT with States.Timeout, as at AWS, not ABORTED.
func TestExpressLimitTimesOut(t *testing.T) {
	h := New(Config{})
	defer h.Stop()
	h.maxDuration = 10 * time.Millisecond
	def, err := asl.Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`))
	require.NoError(t, err)
	x := &execution{m: &record.StateMachine{Project: "p", Name: "m", Type: record.StateMachineExpress}, def: def,
		name: "e", arn: expressArn("p", "m", "e", "id"), input: []byte(`{}`)}
	status, out, fail := h.run(context.Background(), x)
	require.Equal(t, "TIMED_OUT", status)
	require.Nil(t, out)
	require.Equal(t, asl.ErrTimeout, fail.Name)
	require.Equal(t, expressLimitCause, fail.Cause)
}

// TestCanceledRunIsAborted: a run whose caller went away is ABORTED.
func TestCanceledRunIsAborted(t *testing.T) {
	h := New(Config{})
	defer h.Stop()
	def, err := asl.Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`))
	require.NoError(t, err)
	x := &execution{m: &record.StateMachine{Project: "p", Name: "m", Type: record.StateMachineExpress}, def: def,
		name: "e", arn: expressArn("p", "m", "e", "id"), input: []byte(`{}`)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	status, _, _ := h.run(ctx, x)
	require.Equal(t, "ABORTED", status)
}
