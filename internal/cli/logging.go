package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/humanlog"
	"github.com/stratahq/strata/internal/record"
)

// Platform log formats (--log-format).
const (
	logHuman = "human" // compact lines for a terminal (strata dev's default)
	logText  = "text"  // slog's key=value records (strata server's default)
	logJSON  = "json"  // one JSON object per record, for machines
)

// logSettings are the --log-level and --log-format flags of `server` and
// `dev`.
type logSettings struct {
	level  string
	format string
}

func (s *logSettings) bindFormat(cmd *cobra.Command, def string) {
	cmd.Flags().StringVar(&s.format, "log-format", def, "platform log format: human (compact, coloured on a terminal unless NO_COLOR is set), text (key=value records) or json")
}

// newLogger builds the platform logger: records go to stdio.Err.
func newLogger(stdio IO, s logSettings) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s.level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", s.level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch s.format {
	case logHuman:
		return slog.New(humanlog.New(stdio.Err, humanlog.Options{Level: l, Color: humanlog.Colorful(stdio.Err)})), nil
	case logText, "":
		return slog.New(slog.NewTextHandler(stdio.Err, opts)), nil
	case logJSON:
		return slog.New(slog.NewJSONHandler(stdio.Err, opts)), nil
	}
	return nil, usagef("--log-format %q: want human, text or json", s.format)
}

// devLogPrinter prints function log lines in strata dev. In the human
// format they go to out, prefixed by function@version and the short
// invocation id (the form `strata logs` prints, to find the rest), in
// colour by level; otherwise they are platform log records like any
// other, so a machine reads one stream.
type devLogPrinter struct {
	human  bool
	color  bool
	logger *slog.Logger
}

func (p devLogPrinter) format(l record.LogLine) string {
	prefix := humanlog.Paint(p.color, humanlog.Dim, l.Time.Local().Format("15:04:05")) + " " +
		humanlog.Paint(p.color, humanlog.Blue, fmt.Sprintf("[%s@%d %s]", l.Function, l.Version, shortID(l.InvocationID)))
	line := l.Line
	switch l.Level {
	case record.LevelError:
		line = humanlog.Paint(p.color, humanlog.Red, line)
	case record.LevelWarn:
		line = humanlog.Paint(p.color, humanlog.Yellow, line)
	}
	return prefix + " " + line + "\n"
}

// log records l as a platform log record (non-human formats).
func (p devLogPrinter) log(l record.LogLine) {
	level := slog.LevelInfo
	switch l.Level {
	case record.LevelDebug:
		level = slog.LevelDebug
	case record.LevelWarn:
		level = slog.LevelWarn
	case record.LevelError:
		level = slog.LevelError
	}
	p.logger.Log(context.Background(), level, l.Line, "function", l.Function, "version", l.Version,
		"invocation", l.InvocationID, "stream", l.Stream)
}
