package flow

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// hostFlow is the flow host call (binding_call op 5): encode appends the
// JSON FlowRequest to a reused buffer and decode reads the answer while it
// is valid. The shared hostcall mutex keeps the call and the read
// together. Tests replace it with a fake host.
var hostFlow = func(encode func(dst []byte) ([]byte, error), decode func(answer []byte) error) error {
	return hostcall.CallEncode(hostcall.Flow, encode, decode)
}

// exchange makes one flow host call.
func exchange(req *wire.FlowRequest) (*wire.FlowResponse, error) {
	resp := new(wire.FlowResponse)
	err := hostFlow(
		func(dst []byte) ([]byte, error) { return appendRequest(dst, req), nil },
		func(answer []byte) error { return decodeResponse(answer, resp) })
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// decodeResponse decodes a FlowResponse. The answers of every replayed
// step (a step number; results with outputs; suspend) take a fast path
// that copies the raw values out without reflection; anything else (an
// error, an id, escapes in keys) goes through encoding/json.
//
// resp may be reused: its Results array is (only by the fast path, which
// sets every field of each element it appends).
func decodeResponse(b []byte, resp *wire.FlowResponse) error {
	spare := resp.Results[:0]
	*resp = wire.FlowResponse{}
	if !fastResponse(b, resp, spare) {
		*resp = wire.FlowResponse{}
		return json.Unmarshal(b, resp)
	}
	return nil
}

// fastResponse decodes the common shapes of b into resp and reports
// whether it could. Results go into spare's array if it has room. Raw values (value, output) are copied, as the host's
// buffer is reused by the next call; they are validated when decoded into
// the workflow's values.
func fastResponse(b []byte, resp *wire.FlowResponse, spare []wire.FlowResult) bool {
	d := scan{b: b}
	ok := d.object(func(key []byte) bool {
		switch string(key) { // no allocation
		case "step":
			return d.int(&resp.Step)
		case "value":
			resp.Value = d.raw()
			return resp.Value != nil
		case "suspend":
			return d.bool(&resp.Suspend)
		case "canceled":
			return d.bool(&resp.Canceled)
		case "results":
			resp.Results = spare[:0]
			if resp.Results == nil {
				resp.Results = []wire.FlowResult{} // as encoding/json: [] is not null
			}
			return d.array(func() bool {
				resp.Results = append(resp.Results, wire.FlowResult{})
				r := &resp.Results[len(resp.Results)-1]
				return d.object(func(key []byte) bool {
					switch string(key) {
					case "step":
						return d.int(&r.Step)
					case "output":
						r.Output = d.raw()
						return r.Output != nil
					}
					return false
				})
			})
		}
		return false
	})
	d.space()
	return ok && d.i == len(b)
}

// scan is a minimal JSON reader for fastResponse: any shape it does not
// expect makes it give up (false), never guess.
type scan struct {
	b []byte
	i int
}

func (d *scan) space() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\n' || d.b[d.i] == '\t' || d.b[d.i] == '\r') {
		d.i++
	}
}

func (d *scan) byte(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads an object whose keys have no escapes, calling field for
// each key with the reader at its value.
func (d *scan) object(field func(key []byte) bool) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	for {
		if !d.byte('"') {
			return false
		}
		start := d.i
		for d.i < len(d.b) && d.b[d.i] != '"' && d.b[d.i] != '\\' {
			d.i++
		}
		if d.i == len(d.b) || d.b[d.i] != '"' {
			return false
		}
		key := d.b[start:d.i]
		d.i++
		if !d.byte(':') || !field(key) {
			return false
		}
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

func (d *scan) array(elem func() bool) bool {
	if !d.byte('[') {
		return false
	}
	if d.byte(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.byte(']') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

func (d *scan) int(v *int) bool {
	d.space()
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' && d.i-start < 18 {
		d.i++
	}
	if d.i == start || (d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9') {
		return false
	}
	n := 0
	for _, c := range d.b[start:d.i] {
		n = n*10 + int(c-'0')
	}
	*v = n
	return true
}

func (d *scan) bool(v *bool) bool {
	d.space()
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		*v, d.i = true, d.i+4
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		*v, d.i = false, d.i+5
	default:
		return false
	}
	return true
}

// raw returns a copy of the next value, or nil if b ends first. It finds
// the value's end by its brackets and strings.
func (d *scan) raw() json.RawMessage {
	d.space()
	start, depth := d.i, 0
	for ; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '"':
			for d.i++; d.i < len(d.b) && d.b[d.i] != '"'; d.i++ {
				if d.b[d.i] == '\\' {
					d.i++
				}
			}
			if d.i >= len(d.b) {
				return nil
			}
			if depth == 0 {
				d.i++
				return d.copy(start)
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of a scalar
				return d.copy(start)
			}
			if depth--; depth == 0 {
				d.i++
				return d.copy(start)
			}
		case ',', ' ', '\n', '\t', '\r':
			if depth == 0 {
				return d.copy(start)
			}
		}
	}
	if depth > 0 {
		return nil
	}
	return d.copy(start)
}

func (d *scan) copy(start int) json.RawMessage {
	if d.i == start {
		return nil
	}
	return append(json.RawMessage(nil), d.b[start:d.i]...)
}

// appendRequest appends r as JSON, as encoding/json would write it (minus
// its HTML escaping), without reflection: it is on the path of every step.
// Input and Details must be valid JSON already (they come from
// json.Marshal).
func appendRequest(b []byte, r *wire.FlowRequest) []byte {
	b = append(b, `{"op":`...)
	b = appendString(b, r.Op)
	b = appendField(b, "kind", r.Kind)
	b = appendField(b, "name", r.Name)
	if len(r.Input) > 0 {
		b = append(b, `,"input":`...)
		b = append(b, r.Input...)
	}
	b = appendInt(b, "duration_ms", r.DurationMS)
	if p := r.Retry; p != nil {
		b = append(b, `,"retry":{`...)
		n := len(b)
		b = appendInt(b, "max_attempts", int64(p.MaxAttempts))
		b = appendInt(b, "initial_ms", p.InitialMS)
		if p.Coefficient != 0 {
			b = append(b, `,"coefficient":`...)
			b = strconv.AppendFloat(b, p.Coefficient, 'g', -1, 64)
		}
		b = appendInt(b, "max_interval_ms", p.MaxIntervalMS)
		if len(p.NonRetryable) > 0 {
			b = append(b, `,"non_retryable":[`...)
			for i, t := range p.NonRetryable {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, t)
			}
			b = append(b, ']')
		}
		b = closeObject(b, n)
	}
	if t := r.Timeouts; t != nil {
		b = append(b, `,"timeouts":{`...)
		n := len(b)
		b = appendInt(b, "start_to_close_ms", t.StartToCloseMS)
		b = appendInt(b, "schedule_to_close_ms", t.ScheduleToCloseMS)
		b = appendInt(b, "heartbeat_ms", t.HeartbeatMS)
		b = closeObject(b, n)
	}
	b = appendField(b, "id", r.ID)
	b = appendInt(b, "min", int64(r.Min))
	b = appendInt(b, "max", int64(r.Max))
	if len(r.Steps) > 0 {
		b = append(b, `,"steps":[`...)
		for i, s := range r.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(s), 10)
		}
		b = append(b, ']')
	}
	b = appendField(b, "workflow", r.Workflow)
	if len(r.Details) > 0 {
		b = append(b, `,"details":`...)
		b = append(b, r.Details...)
	}
	return append(b, '}')
}

// closeObject ends a nested object whose fields were appended from n on,
// each with a leading comma: the first comma goes.
func closeObject(b []byte, n int) []byte {
	if len(b) > n {
		copy(b[n:], b[n+1:])
		b = b[:len(b)-1]
	}
	return append(b, '}')
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendInt(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return wire.AppendJSONString(b, s) }
