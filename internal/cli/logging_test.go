package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
)

func TestDevLogLines(t *testing.T) {
	at := time.Date(2026, 12, 2, 17, 4, 5, 0, time.Local)
	l := record.LogLine{Function: "hello", Version: 3, InvocationID: "01a237c9-2ace-7a8c-b2ac-73c45ee912d0", Time: at, Stream: "stderr", Line: "greeting \"x\""}
	for _, tc := range []struct {
		name  string
		color bool
		level record.LogLevel
		want  string
	}{
		{"plain", false, record.LevelInfo, "17:04:05 [hello@3 73c45ee912d0] greeting \"x\"\n"},
		{"plain error has no colour", false, record.LevelError, "17:04:05 [hello@3 73c45ee912d0] greeting \"x\"\n"},
		{"colour info", true, record.LevelInfo, "\x1b[2m17:04:05\x1b[0m \x1b[34m[hello@3 73c45ee912d0]\x1b[0m greeting \"x\"\n"},
		{"colour error", true, record.LevelError, "\x1b[2m17:04:05\x1b[0m \x1b[34m[hello@3 73c45ee912d0]\x1b[0m \x1b[31mgreeting \"x\"\x1b[0m\n"},
		{"colour warn", true, record.LevelWarn, "\x1b[2m17:04:05\x1b[0m \x1b[34m[hello@3 73c45ee912d0]\x1b[0m \x1b[33mgreeting \"x\"\x1b[0m\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.Level = tc.level
			require.Equal(t, tc.want, devLogPrinter{human: true, color: tc.color}.format(l))
		})
	}

	// Machine formats: a function line is a record with its fields.
	var buf bytes.Buffer
	logger, err := newLogger(IO{Err: &buf}, logSettings{level: "info", format: logJSON})
	require.NoError(t, err)
	l.Level = record.LevelWarn
	devLogPrinter{logger: logger}.log(l)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	delete(rec, "time")
	require.Equal(t, map[string]any{"level": "WARN", "msg": "greeting \"x\"", "function": "hello", "version": float64(3),
		"invocation": "01a237c9-2ace-7a8c-b2ac-73c45ee912d0", "stream": "stderr"}, rec)
}

func TestNewLoggerFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string
	}{
		{logHuman, "WARN careful n=1\n"},
		{logText, "level=WARN msg=careful n=1\n"},
		{logJSON, `"level":"WARN","msg":"careful","n":1}` + "\n"},
	} {
		var buf bytes.Buffer
		logger, err := newLogger(IO{Err: &buf}, logSettings{level: "warn", format: tc.format})
		require.NoError(t, err)
		logger.Info("hidden")
		logger.Warn("careful", "n", 1)
		require.Contains(t, buf.String(), tc.want, tc.format)
		require.NotContains(t, buf.String(), "hidden")
		if tc.format == logHuman {
			require.Regexp(t, `^\d\d:\d\d:\d\d WARN careful n=1\n$`, buf.String())
		}
	}
	_, err := newLogger(IO{}, logSettings{level: "info", format: "xml"})
	require.EqualError(t, err, `--log-format "xml": want human, text or json`)
	_, err = newLogger(IO{}, logSettings{level: "loud", format: logHuman})
	require.EqualError(t, err, `--log-level "loud": want debug, info, warn or error`)
}
