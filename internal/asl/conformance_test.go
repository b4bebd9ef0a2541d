package asl

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// conformanceCase is one file of testdata/: a definition, an input, the
// scripted task responses, and either the expected output, the expected
// error (name and optionally cause) or the expected definition diagnostics.
type conformanceCase struct {
	Definition json.RawMessage           `json:"definition"`
	Input      json.RawMessage           `json:"input"`
	Tasks      map[string][]taskResponse `json:"tasks"`
	Output     json.RawMessage           `json:"output"`
	Error      string                    `json:"error"`
	Cause      string                    `json:"cause"`
	Invalid    []string                  `json:"invalid"`
	Slept      *float64                  `json:"slept"`
	Calls      map[string]int            `json:"calls"`
	Check      string                    `json:"check"`
	Failed     bool                      `json:"failed"` // a failure whose name may be empty
}

// taskResponse scripts one invocation: echo the parameters, return output,
// or fail with error/cause. The last response repeats.
type taskResponse struct {
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	Sleep  bool            `json:"block"` // block until the context ends
}

type scriptedTasks struct {
	mu     sync.Mutex
	script map[string][]taskResponse
	calls  map[string]int
}

func (s *scriptedTasks) Invoke(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error) {
	s.mu.Lock()
	n := s.calls[resource]
	s.calls[resource] = n + 1
	rs := s.script[resource]
	s.mu.Unlock()
	if len(rs) == 0 {
		if strings.HasSuffix(resource, ".waitForTaskToken") {
			return json.Marshal(map[string]any{"token": token, "params": json.RawMessage(params)})
		}
		return params, nil // echo
	}
	r := rs[min(n, len(rs)-1)]
	switch {
	case r.Sleep:
		<-ctx.Done()
		return nil, ctx.Err()
	case r.Error != "":
		return nil, &Error{Name: r.Error, Cause: r.Cause}
	case r.Output != nil:
		return r.Output, nil
	}
	return params, nil
}

var _ Tasks = (*scriptedTasks)(nil)

var testStart = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func TestConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var c conformanceCase
			require.NoError(t, json.Unmarshal(b, &c))
			src := []byte(c.Definition)
			var text string
			if json.Unmarshal(c.Definition, &text) == nil {
				src = []byte(text) // a definition given as text: not JSON
			}
			def, err := Parse(src)
			if c.Invalid != nil {
				var de *DefinitionError
				require.ErrorAs(t, err, &de, "definition should be rejected")
				for _, want := range c.Invalid {
					require.Contains(t, de.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			tasks := &scriptedTasks{script: c.Tasks, calls: map[string]int{}}
			var slept time.Duration
			var mu sync.Mutex
			opts := Options{
				Tasks: tasks,
				Now:   func() time.Time { return testStart },
				Sleep: func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					slept += d
					mu.Unlock()
					return ctx.Err()
				},
				Rand:             func() float64 { return 0.5 },
				ExecutionID:      "arn:aws:states:us-east-1:123456789012:execution:sm:exec",
				ExecutionName:    "exec",
				StateMachineID:   "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
				StateMachineName: "sm",
			}
			input := c.Input
			if input == nil {
				input = []byte("{}")
			}
			out, err := Run(context.Background(), def, input, opts)
			if c.Error != "" || c.Failed {
				require.Error(t, err)
				var e *Error
				require.True(t, errors.As(err, &e), "error %v is not an *asl.Error", err)
				require.Equal(t, c.Error, e.Name, "cause: %s", e.Cause)
				if c.Cause != "" {
					require.Equal(t, c.Cause, e.Cause)
				}
			} else {
				require.NoError(t, err)
				switch {
				case c.Check != "":
					checkShape(t, c.Check, out)
				default:
					require.JSONEq(t, string(c.Output), string(out))
				}
			}
			if c.Slept != nil {
				require.Equal(t, time.Duration(*c.Slept*float64(time.Second)), slept)
			}
			for r, n := range c.Calls {
				require.Equal(t, n, tasks.calls[r], "calls of %s", r)
			}
		})
	}
}

// checkShape asserts outputs that vary between runs (UUIDs, random
// numbers): "uuid" checks $.v is a version-4 UUID; "range:a:b" checks
// a <= $.v < b.
func checkShape(t *testing.T, check string, out []byte) {
	var v struct{ V any }
	require.NoError(t, json.Unmarshal(out, &v))
	switch {
	case check == "uuid":
		s, ok := v.V.(string)
		require.True(t, ok)
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, s)
	case strings.HasPrefix(check, "range:"):
		var lo, hi float64
		parts := strings.Split(check, ":")
		require.NoError(t, json.Unmarshal([]byte(parts[1]), &lo))
		require.NoError(t, json.Unmarshal([]byte(parts[2]), &hi))
		f, ok := v.V.(float64)
		require.True(t, ok)
		require.True(t, f >= lo && f < hi, "%v not in [%v,%v)", f, lo, hi)
	default:
		t.Fatalf("unknown check %q", check)
	}
}
