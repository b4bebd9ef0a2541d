package server

import (
	"context"
	"log/slog"
)

// quietHandler demotes a component's info records to debug. The Wasm
// runtime logs a line or two per module it compiles or snapshots, which
// on every save in strata dev buries what the user needs; an operator
// who wants them runs with --log-level debug. Guest output written
// outside an invocation (during init, say) stays info: it is the user's
// own output, often the reason init failed.
type quietHandler struct{ slog.Handler }

// keepInfo are the messages quietHandler leaves at info.
var keepInfo = map[string]bool{"guest output outside an invocation": true}

func quiet(l *slog.Logger) *slog.Logger { return slog.New(quietHandler{l.Handler()}) }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && !keepInfo[r.Message] {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r2 := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
		r = r2
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
