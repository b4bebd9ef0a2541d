package humanlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ANSI SGR sequences; only written when colour is on.
const (
	reset  = "\x1b[0m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	blue   = "\x1b[34m"
)

// Options configure a Handler.
type Options struct {
	Level slog.Leveler // minimum level; nil means info
	Color bool         // ANSI colours (use Colorful to decide)
}

// Handler is a slog.Handler writing compact lines for people:
//
//	17:04:05 deployed project=shop new_versions=2
//	17:04:06 WARN slow compile module=hello seconds=3.2
//
// Attributes added with WithAttrs come before the record's own; groups
// prefix keys with "group.". It is safe for concurrent use; handlers
// derived with WithAttrs or WithGroup share the writer's lock, so lines
// never interleave.
type Handler struct {
	w      io.Writer
	mu     *sync.Mutex
	opts   Options
	prefix string // pre-formatted " k=v" of WithAttrs
	groups []string
}

var _ slog.Handler = (*Handler)(nil)

// New returns a handler writing to w.
func New(w io.Writer, opts Options) *Handler {
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	return &Handler{w: w, mu: &sync.Mutex{}, opts: opts}
}

// Enabled reports whether level is at or above the handler's minimum.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.opts.Level.Level()
}

// Handle writes r as one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if !r.Time.IsZero() {
		h.paint(&b, dim, r.Time.Format(time.TimeOnly))
		b.WriteByte(' ')
	}
	if r.Level != slog.LevelInfo {
		h.paint(&b, levelColor(r.Level), r.Level.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		h.writeAttr(&b, h.groups, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs returns a handler that adds attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var b strings.Builder
	for _, a := range attrs {
		h.writeAttr(&b, h.groups, a)
	}
	h2 := *h
	h2.prefix += b.String()
	return &h2
}

// WithGroup returns a handler that prefixes later keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), name)
	return &h2
}

func (h *Handler) writeAttr(b *strings.Builder, groups []string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return // slog's rule: empty attributes are ignored
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if a.Key != "" {
			groups = append(slices.Clip(groups), a.Key)
		}
		for _, ga := range attrs {
			h.writeAttr(b, groups, ga)
		}
		return
	}
	key := a.Key
	if len(groups) > 0 {
		key = strings.Join(groups, ".") + "." + key
	}
	b.WriteByte(' ')
	h.paint(b, dim, key+"=")
	b.WriteString(quote(valueString(a.Value)))
}

func (h *Handler) paint(b *strings.Builder, color, s string) {
	if h.opts.Color {
		b.WriteString(color)
		b.WriteString(s)
		b.WriteString(reset)
		return
	}
	b.WriteString(s)
}

func levelColor(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return red
	case l >= slog.LevelWarn:
		return yellow
	default:
		return blue
	}
}

func valueString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().Round(time.Microsecond).String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindFloat64:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 64)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
		return fmt.Sprint(v.Any())
	}
	return v.String()
}

// quote quotes s as Go does when it is empty or has spaces, quotes, '=' or
// control characters, so a line splits back into its key=value pairs.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Colorful reports whether output to w should be coloured: w is a
// terminal and NO_COLOR (https://no-color.org) is unset or empty.
func Colorful(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a character device (a terminal), as
// far as the standard library can tell without a terminal package.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Paint wraps s in color when on is true; color is one of the exported
// colours. The dev command colours function log lines with it.
func Paint(on bool, color Color, s string) string {
	if !on || color == "" {
		return s
	}
	return string(color) + s + reset
}

// Color is an ANSI colour for Paint.
type Color string

// Colours for Paint.
const (
	Dim    Color = dim
	Red    Color = red
	Yellow Color = yellow
	Blue   Color = blue
)
