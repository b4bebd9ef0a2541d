package server

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuietDemotesInfo(t *testing.T) {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	for _, tc := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelInfo, "level=WARN msg=w module=m\nlevel=INFO msg=\"guest output outside an invocation\" module=m line=hi\n"},
		{slog.LevelDebug, "level=DEBUG msg=\"module compiled\" module=m\nlevel=WARN msg=w module=m\nlevel=INFO msg=\"guest output outside an invocation\" module=m line=hi\n"},
	} {
		var buf bytes.Buffer
		l := quiet(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level, ReplaceAttr: noTime}))).With("module", "m")
		l.Info("module compiled")
		l.Warn("w")
		l.Info("guest output outside an invocation", "line", "hi")
		require.Equal(t, tc.want, buf.String(), "at level %s", tc.level)
	}
}
