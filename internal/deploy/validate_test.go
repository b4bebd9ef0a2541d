package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "hello", "a-b-1", "x" + strings.Repeat("y", 62), "a-"} {
		assert.NoError(t, ValidateName(ok), ok)
	}
	for _, bad := range []string{"", "A", "1a", "-a", "a_b", "héllo", "a.b", "x" + strings.Repeat("y", 63)} {
		assert.Error(t, ValidateName(bad), bad)
	}
	assert.EqualError(t, ValidateName("Hello"), `must be a lowercase letter followed by up to 62 lowercase letters, digits or '-', got "Hello"; try "hello"`)
}

func TestValidateLimits(t *testing.T) {
	assert.NoError(t, ValidateMemoryMB(16))
	assert.NoError(t, ValidateMemoryMB(4096))
	assert.EqualError(t, ValidateMemoryMB(15), "must be an integer number of MB between 16 and 4096, got 15")
	assert.Error(t, ValidateMemoryMB(4097))

	assert.NoError(t, ValidateTimeout(time.Millisecond))
	assert.NoError(t, ValidateTimeout(15*time.Minute))
	assert.EqualError(t, ValidateTimeout(16*time.Minute), `must be a duration like "10s" or "1m30s" between 1ms and 15m, got 16m0s`)
	assert.Error(t, ValidateTimeout(0))
	assert.EqualError(t, ValidateTimeout(1500*time.Microsecond), "must be a whole number of milliseconds, got 1.5ms")

	assert.NoError(t, ValidateMaxConcurrency(1))
	assert.NoError(t, ValidateMaxConcurrency(10000))
	assert.EqualError(t, ValidateMaxConcurrency(0), "must be an integer between 1 and 10000, got 0")

	assert.NoError(t, ValidateKind("reactor"))
	assert.NoError(t, ValidateKind("command"))
	assert.EqualError(t, ValidateKind("Reactor"), `must be "reactor", "command" or "process", got "Reactor"`)

	assert.NoError(t, ValidateEvents(""))
	assert.NoError(t, ValidateEvents("lambda"))
	// The manifest stores "cloudevents" as empty; the API takes only that.
	assert.EqualError(t, ValidateEvents("cloudevents"), `must be empty (CloudEvents, the default) or "lambda", got "cloudevents"`)

	for _, ok := range []string{"A", "_", "a_B9", "PATH"} {
		assert.NoError(t, ValidateEnvKey(ok), ok)
	}
	for _, bad := range []string{"", "9A", "A-B", "A B", "É"} {
		assert.Error(t, ValidateEnvKey(bad), bad)
	}

	assert.NoError(t, ValidateSHA256(strings.Repeat("ab", 32)))
	assert.Error(t, ValidateSHA256(strings.Repeat("AB", 32)))
	assert.Error(t, ValidateSHA256(strings.Repeat("a", 63)))
	assert.Error(t, ValidateSHA256(strings.Repeat("g", 64)))
}

func TestSpecValidate(t *testing.T) {
	good := func() apitype.Spec {
		return spec("shop", fn("api", sha('1'), "GET /a", "POST /u/{id}"), fn("web", sha('2'), "/{rest...}"))
	}
	require.NoError(t, Validate(good()))

	tests := []struct {
		name   string
		mutate func(*apitype.Spec)
		errs   []string
	}{
		{"bad project", func(s *apitype.Spec) { s.Project = "Shop" }, []string{`project: must be a lowercase letter`}},
		{"no functions", func(s *apitype.Spec) { s.Functions = nil }, []string{"functions: at least one function is required"}},
		{"bad name", func(s *apitype.Spec) { s.Functions[0].Name = "API" }, []string{`functions[0].name: must be`}},
		{"duplicate", func(s *apitype.Spec) { s.Functions[1].Name = "api" }, []string{`function "api": appears twice`}},
		{"bad sha", func(s *apitype.Spec) { s.Functions[0].ModuleSHA256 = "xyz" }, []string{`function "api": module_sha256: must be 64 lowercase hex digits (a SHA-256), got "xyz"`}},
		{"config", func(s *apitype.Spec) {
			s.Functions[0].Config = record.FunctionConfig{Kind: "wasm", MemoryMB: 1, TimeoutMS: 0, MaxConcurrency: 0, Env: map[string]string{"1A": "x"}}
		}, []string{
			`function "api": config: kind: must be "reactor", "command" or "process", got "wasm"`,
			`memory_mb: must be an integer number of MB between 16 and 4096, got 1`,
			`timeout_ms: must be between 1 and 900000, got 0`,
			`max_concurrency: must be an integer between 1 and 10000, got 0`,
			`env: key must be a letter or _ followed by letters, digits or _, got "1A"`,
		}},
		{"bad events", func(s *apitype.Spec) { s.Functions[0].Config.Events = "sqs" },
			[]string{`function "api": config: events: must be empty (CloudEvents, the default) or "lambda", got "sqs"`}},
		{"bad route", func(s *apitype.Spec) { s.Functions[0].Routes[0].Path = "/a//b" }, []string{`function "api": route GET /a//b: path "/a//b" has an empty segment`}},
		{"bad method", func(s *apitype.Spec) { s.Functions[0].Routes[0].Method = "" }, []string{`function "api": route  /a: method "" is not one of`}},
		{"clash", func(s *apitype.Spec) {
			s.Functions[1].Routes = []apitype.RouteSpec{{Method: "POST", Path: "/u/{name}"}}
		},
			[]string{`function "web": route POST /u/{name} clashes with POST /u/{id} of function "api"`}},
		{"reserved", func(s *apitype.Spec) { s.Functions[1].Routes = []apitype.RouteSpec{{Method: "*", Path: "/_strata/x"}} },
			[]string{`reserved for the platform`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.mutate(&s)
			err := Validate(s)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSpec))
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	// Kind may be empty (detected from the module by the server).
	s := good()
	s.Functions[0].Config.Kind = ""
	assert.NoError(t, Validate(s))
	// "*" and GET on one shape do not clash: GET wins at match time.
	s = good()
	s.Functions[1].Routes = []apitype.RouteSpec{{Method: "*", Path: "/a"}}
	assert.NoError(t, Validate(s))
}
