package invoke

import (
	"bytes"
	"time"

	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/record"
)

// Limits on what one invocation may log, so a chatty or hostile guest cannot
// flood the store: longer lines are cut, further lines are counted and
// reported as one platform line.
const (
	maxLineBytes       = 8 << 10
	maxLinesPerInvoke  = 1000
	truncatedLineMark  = " …[truncated]"
	droppedLinesFormat = "%d more log lines dropped (limit %d per invocation)"
)

// lineWriter turns a guest's stdout or stderr byte stream into log lines.
// One invocation's stdout and stderr share a budget; it is not safe for
// concurrent use (an instance serves one invocation at a time).
type lineWriter struct {
	meter   *meter.Meter
	base    record.LogLine // invocation fields copied into every line
	stream  string
	buf     []byte
	budget  *int
	dropped *int
	tap     func(record.LogLine) // Request.Logs; nil: none
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) > maxLineBytes {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.emit(w.buf)
			w.buf = w.buf[:0]
		} else {
			w.emit(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a final line without a newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *lineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if *w.budget <= 0 {
		*w.dropped++
		return
	}
	*w.budget--
	text := string(line)
	if len(text) > maxLineBytes {
		text = text[:maxLineBytes] + truncatedLineMark
	}
	l := w.base
	l.Stream = w.stream
	l.Line = text
	l.Level = lineLevel(text)
	l.Time = time.Now().UTC()
	w.meter.RecordLog(l)
	if w.tap != nil {
		w.tap(l)
	}
}
