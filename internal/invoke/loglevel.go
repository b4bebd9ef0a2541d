package invoke

import (
	"encoding/json"
	"strings"

	"github.com/stratahq/strata/internal/record"
)

// lineLevel reads the severity a guest's line states, so `strata logs
// --level` can filter text the platform did not write. It recognises the
// forms common loggers print:
//
//   - a JSON object with a "level", "severity" or "lvl" field (slog's JSON
//     handler, zap, zerolog);
//   - a logfmt level=VALUE pair (slog's text handler, logrus);
//   - a level word among the first words: upper case (INFO, WARN, ERROR,
//     as slog's default logger and many others print after a timestamp),
//     optionally in brackets or followed by a colon, or lower case followed
//     by a colon ("error:", "warning:", and Go's "panic:" and
//     "fatal error:").
//
// A line that states none is info, whichever stream it came on: Go's log
// package and slog's default logger write ordinary lines to stderr, so the
// stream says little about severity.
func lineLevel(line string) record.LogLevel {
	s := strings.TrimSpace(line)
	if strings.HasPrefix(s, "{") {
		var v struct {
			Level    any `json:"level"`
			Severity any `json:"severity"`
			Lvl      any `json:"lvl"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			for _, f := range []any{v.Level, v.Severity, v.Lvl} {
				if l := levelValue(f); l != 0 {
					return l
				}
			}
		}
		return record.LevelInfo
	}
	words := strings.Fields(s)
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "level="); ok {
			if l := levelWord(strings.ToUpper(strings.Trim(v, `"`))); l != 0 {
				return l
			}
		}
	}
	for i, w := range words {
		if i == 4 {
			break
		}
		bare := strings.TrimSuffix(strings.Trim(w, "[]"), ":")
		if bare == strings.ToUpper(bare) {
			if l := levelWord(bare); l != 0 {
				return l
			}
		} else if strings.HasSuffix(w, ":") {
			if l := levelWord(strings.ToUpper(bare)); l != 0 {
				return l
			}
		}
		if bare == "fatal" && i+1 < len(words) && words[i+1] == "error:" {
			return record.LevelError
		}
		// Only timestamps may come before the level word.
		if bare == "" || bare[0] < '0' || bare[0] > '9' {
			break
		}
	}
	return record.LevelInfo
}

// levelValue reads a JSON level field: a name, or a number as slog
// (-4 debug … 8 error) or zerolog's text names use.
func levelValue(v any) record.LogLevel {
	switch v := v.(type) {
	case string:
		return levelWord(strings.ToUpper(v))
	case float64:
		switch {
		case v < 0:
			return record.LevelDebug
		case v < 4:
			return record.LevelInfo
		case v < 8:
			return record.LevelWarn
		default:
			return record.LevelError
		}
	}
	return 0
}

func levelWord(w string) record.LogLevel {
	switch w {
	case "DEBUG", "DBG", "TRACE":
		return record.LevelDebug
	case "INFO", "INF", "NOTICE":
		return record.LevelInfo
	case "WARN", "WARNING", "WRN":
		return record.LevelWarn
	case "ERROR", "ERR", "FATAL", "PANIC", "CRITICAL", "EMERGENCY", "ALERT":
		return record.LevelError
	}
	// slog prints levels between the named ones as INFO+2, WARN-1 and so on.
	if i := strings.IndexAny(w, "+-"); i > 0 {
		return levelWord(w[:i])
	}
	return 0
}
