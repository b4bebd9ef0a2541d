package humanlog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/humanlog"
)

var at = time.Date(2026, 12, 2, 17, 4, 5, 123456789, time.UTC)

// logLine writes one record through h (and any derivation) and returns the
// output.
func logLine(t *testing.T, opts humanlog.Options, derive func(slog.Handler) slog.Handler, level slog.Level, msg string, attrs ...slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = humanlog.New(&buf, opts)
	if derive != nil {
		h = derive(h)
	}
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if h.Enabled(context.Background(), level) {
		require.NoError(t, h.Handle(context.Background(), r))
	}
	return buf.String()
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   humanlog.Options
		derive func(slog.Handler) slog.Handler
		level  slog.Level
		msg    string
		attrs  []slog.Attr
		want   string
	}{
		{name: "info has no level", level: slog.LevelInfo, msg: "deployed",
			attrs: []slog.Attr{slog.String("project", "shop"), slog.Int("new_versions", 2)},
			want:  "17:04:05 deployed project=shop new_versions=2\n"},
		{name: "warn", level: slog.LevelWarn, msg: "slow compile", attrs: []slog.Attr{slog.Float64("seconds", 3.25)},
			want: "17:04:05 WARN slow compile seconds=3.25\n"},
		{name: "error with an error value quoted", level: slog.LevelError, msg: "write invocation logs",
			attrs: []slog.Attr{slog.Any("err", errors.New("disk full: no space"))},
			want:  "17:04:05 ERROR write invocation logs err=\"disk full: no space\"\n"},
		{name: "debug below the minimum is dropped", level: slog.LevelDebug, msg: "module compiled", want: ""},
		{name: "debug when enabled", opts: humanlog.Options{Level: slog.LevelDebug}, level: slog.LevelDebug, msg: "module compiled",
			attrs: []slog.Attr{slog.String("module", "hello@3"), slog.Duration("took", 1500*time.Millisecond)},
			want:  "17:04:05 DEBUG module compiled module=hello@3 took=1.5s\n"},
		{name: "empty, equals and quote values", level: slog.LevelInfo, msg: "m",
			attrs: []slog.Attr{slog.String("a", ""), slog.String("b", "x=y"), slog.String("c", `say "hi"`), slog.String("d", "tab\there")},
			want:  "17:04:05 m a=\"\" b=\"x=y\" c=\"say \\\"hi\\\"\" d=\"tab\\there\"\n"},
		{name: "attrs and groups", level: slog.LevelInfo, msg: "m",
			derive: func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{slog.String("node", "n1")}).WithGroup("req")
			},
			attrs: []slog.Attr{slog.String("path", "/x"), slog.Group("peer", slog.String("ip", "127.0.0.1")), {}},
			want:  "17:04:05 m node=n1 req.path=/x req.peer.ip=127.0.0.1\n"},
		{name: "colour", opts: humanlog.Options{Color: true}, level: slog.LevelError, msg: "boom", attrs: []slog.Attr{slog.Int("n", 1)},
			want: "\x1b[2m17:04:05\x1b[0m \x1b[31mERROR\x1b[0m boom \x1b[2mn=\x1b[0m1\n"},
		{name: "colour warn", opts: humanlog.Options{Color: true}, level: slog.LevelWarn, msg: "hm",
			want: "\x1b[2m17:04:05\x1b[0m \x1b[33mWARN\x1b[0m hm\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, logLine(t, tc.opts, tc.derive, tc.level, tc.msg, tc.attrs...))
		})
	}
}

// TestConcurrentLinesDoNotInterleave: handlers derived from one share its
// lock, so each record is one whole line.
func TestConcurrentLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	base := humanlog.New(&buf, humanlog.Options{})
	a, b := slog.New(base.WithAttrs([]slog.Attr{slog.String("who", "a")})), slog.New(base.WithGroup("g"))
	done := make(chan struct{})
	go func() {
		for range 200 {
			a.Info("from a", "k", "v")
		}
		close(done)
	}()
	for range 200 {
		b.Info("from b", "k", "v")
	}
	<-done
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	require.Len(t, lines, 400)
	for _, l := range lines {
		s := string(l[9:]) // after "hh:mm:ss "
		require.Contains(t, []string{"from a who=a k=v", "from b g.k=v"}, s)
	}
}

func TestColorful(t *testing.T) {
	var buf bytes.Buffer
	require.False(t, humanlog.Colorful(&buf), "a buffer is not a terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, humanlog.Colorful(f), "a regular file is not a terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		t.Setenv("NO_COLOR", "")
		require.True(t, humanlog.Colorful(tty))
		t.Setenv("NO_COLOR", "1")
		require.False(t, humanlog.Colorful(tty), "NO_COLOR turns colour off on a terminal")
	}
	require.Equal(t, "x", humanlog.Paint(false, humanlog.Red, "x"))
	require.Equal(t, "\x1b[31mx\x1b[0m", humanlog.Paint(true, humanlog.Red, "x"))
}
