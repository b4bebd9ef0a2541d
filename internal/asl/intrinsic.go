package asl

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
)

// call is a compiled intrinsic function call: States.Name(args...).
type call struct {
	name string
	args []arg
	fn   func(c *call, vals []any) (any, *Error)
}

type arg struct {
	lit  any
	path *Path
	call *call
}

// intrinsics maps each function to its implementation and its allowed
// argument counts (min, max; max -1 for any).
var intrinsics = map[string]struct {
	min, max int
	fn       func(c *call, vals []any) (any, *Error)
}{}

func init() {
	reg := func(name string, min, max int, fn func(c *call, vals []any) (any, *Error)) {
		intrinsics[name] = struct {
			min, max int
			fn       func(c *call, vals []any) (any, *Error)
		}{min, max, fn}
	}
	reg("States.Format", 1, -1, fnFormat)
	reg("States.StringToJson", 1, 1, fnStringToJSON)
	reg("States.JsonToString", 1, 1, fnJSONToString)
	reg("States.Array", 0, -1, func(_ *call, v []any) (any, *Error) { return append([]any{}, v...), nil })
	reg("States.ArrayPartition", 2, 2, fnArrayPartition)
	reg("States.ArrayContains", 2, 2, fnArrayContains)
	reg("States.ArrayRange", 3, 3, fnArrayRange)
	reg("States.ArrayGetItem", 2, 2, fnArrayGetItem)
	reg("States.ArrayLength", 1, 1, fnArrayLength)
	reg("States.ArrayUnique", 1, 1, fnArrayUnique)
	reg("States.Base64Encode", 1, 1, fnBase64Encode)
	reg("States.Base64Decode", 1, 1, fnBase64Decode)
	reg("States.Hash", 2, 2, fnHash)
	reg("States.JsonMerge", 3, 3, fnJSONMerge)
	reg("States.MathRandom", 2, 3, fnMathRandom)
	reg("States.MathAdd", 2, 2, fnMathAdd)
	reg("States.StringSplit", 2, 2, fnStringSplit)
	reg("States.UUID", 0, 0, fnUUID)
}

// parseCall compiles an intrinsic call expression.
func parseCall(s string) (*call, error) {
	p := &callParser{s: s}
	c, err := p.call()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the call", p.s[p.i:])
	}
	return c, nil
}

type callParser struct {
	s string
	i int
}

func (p *callParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *callParser) call() (*call, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	if p.i == len(p.s) {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.s[start:p.i])
	def, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %q", name)
	}
	p.i++
	c := &call{name: name, fn: def.fn}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing ')'")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			return nil, fmt.Errorf("unexpected %q", p.s[p.i])
		}
	}
	if len(c.args) < def.min || (def.max >= 0 && len(c.args) > def.max) {
		return nil, fmt.Errorf("%s takes %d to %d arguments, got %d", name, def.min, def.max, len(c.args))
	}
	return c, nil
}

func (p *callParser) arg() (arg, error) {
	p.space()
	if p.i >= len(p.s) {
		return arg{}, fmt.Errorf("missing argument")
	}
	switch ch := p.s[p.i]; {
	case ch == '\'':
		var b strings.Builder
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == '\\' && p.i+1 < len(p.s) {
				// \' \{ \} \\ are the escapes the specification defines;
				// the format template keeps \{ \} escaped for Format.
				n := p.s[p.i+1]
				if n == '{' || n == '}' {
					b.WriteByte('\\')
				}
				b.WriteByte(n)
				p.i += 2
				continue
			}
			if c == '\'' {
				p.i++
				return arg{lit: b.String()}, nil
			}
			b.WriteByte(c)
			p.i++
		}
		return arg{}, fmt.Errorf("unterminated string")
	case ch == '$':
		start := p.i
		depth := 0
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == '[' || c == '(' {
				depth++
			} else if c == ']' || (c == ')' && depth > 0) {
				depth--
			} else if (c == ',' || c == ')') && depth == 0 {
				break
			}
			p.i++
		}
		path, err := parsePath(strings.TrimSpace(p.s[start:p.i]))
		if err != nil {
			return arg{}, err
		}
		return arg{path: path}, nil
	case ch == 'S' && strings.HasPrefix(p.s[p.i:], "States."):
		c, err := p.call()
		if err != nil {
			return arg{}, err
		}
		return arg{call: c}, nil
	default:
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' {
			p.i++
		}
		tok := strings.TrimSpace(p.s[start:p.i])
		switch tok {
		case "true":
			return arg{lit: true}, nil
		case "false":
			return arg{lit: false}, nil
		case "null":
			return arg{lit: nil}, nil
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return arg{}, fmt.Errorf("invalid argument %q", tok)
		}
		return arg{lit: f}, nil
	}
}

func (c *call) eval(s *scope) (any, *Error) {
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.path != nil:
			v, ok := s.resolve(a.path)
			if !ok {
				return nil, newErr(ErrRuntime, "The JSONPath '%s' specified for the argument of %s could not be found in the input '%s'", a.path.src, c.name, compactJSON(s.doc))
			}
			vals[i] = v
		case a.call != nil:
			v, err := a.call.eval(s)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		default:
			vals[i] = a.lit
		}
	}
	if rf, ok := randomIntrinsics[c.name]; ok {
		return rf(c, vals, s.draw)
	}
	return c.fn(c, vals)
}

// randomIntrinsics take random bits from draw: the scope's, replayable
// under Options.Seed.
var randomIntrinsics = map[string]func(c *call, vals []any, draw func() [32]byte) (any, *Error){
	"States.UUID":       uuidFrom,
	"States.MathRandom": mathRandomFrom,
}

// draw returns 32 random bits' worth of bytes for one intrinsic call:
// derived from Options.Seed, the thread's path and its draw count when
// the execution has a seed, else from crypto/rand.
func (s *scope) draw() [32]byte {
	if s.ctx != nil {
		return s.ctx.th.draw()
	}
	return cryptoDraw()
}

// draw is the thread's next random draw: replayable under Options.Seed,
// else from crypto/rand. States.UUID, States.MathRandom and JSONata's
// $random() share the sequence. A nil thread (no execution) draws from
// crypto/rand.
func (th *thread) draw() [32]byte {
	if th == nil || th.ex.opts.Seed == "" {
		return cryptoDraw()
	}
	th.draws++
	return sha256.Sum256([]byte(th.ex.opts.Seed + "\x00" + th.path + "\x00" + strconv.Itoa(th.draws)))
}

func intrinsicErr(c *call, format string, args ...any) *Error {
	return &Error{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf("Invalid arguments in %s: ", c.name) + fmt.Sprintf(format, args...)}
}

func fnFormat(c *call, v []any) (any, *Error) {
	tmpl, ok := v[0].(string)
	if !ok {
		return nil, intrinsicErr(c, "the first argument must be a string")
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch == '\\' && i+1 < len(tmpl) && (tmpl[i+1] == '{' || tmpl[i+1] == '}' || tmpl[i+1] == '\\') {
			b.WriteByte(tmpl[i+1])
			i++
			continue
		}
		if ch == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}' {
			if next >= len(v) {
				return nil, intrinsicErr(c, "the number of arguments does not match the number of placeholders")
			}
			switch a := v[next].(type) {
			case string:
				b.WriteString(a)
			case map[string]any, []any:
				return nil, intrinsicErr(c, "argument %d must be a string, number, boolean or null", next)
			default:
				b.WriteString(compactJSON(a))
			}
			next++
			i++
			continue
		}
		b.WriteByte(ch)
	}
	if next != len(v) {
		return nil, intrinsicErr(c, "the number of arguments does not match the number of placeholders")
	}
	return b.String(), nil
}

func fnStringToJSON(c *call, v []any) (any, *Error) {
	s, ok := v[0].(string)
	if !ok {
		return nil, intrinsicErr(c, "the argument must be a string")
	}
	out, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, intrinsicErr(c, "the argument is not valid JSON")
	}
	return out, nil
}

func fnJSONToString(_ *call, v []any) (any, *Error) { return compactJSON(v[0]), nil }

func asInt(x any) (int, bool) {
	f, ok := x.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func fnArrayPartition(c *call, v []any) (any, *Error) {
	a, ok := v[0].([]any)
	if !ok {
		return nil, intrinsicErr(c, "the first argument must be an array")
	}
	n, ok := asInt(v[1])
	if !ok || n <= 0 {
		return nil, intrinsicErr(c, "the chunk size must be a positive integer")
	}
	out := []any{}
	for i := 0; i < len(a); i += n {
		end := min(i+n, len(a))
		out = append(out, append([]any{}, a[i:end]...))
	}
	return out, nil
}

func fnArrayContains(c *call, v []any) (any, *Error) {
	a, ok := v[0].([]any)
	if !ok {
		return nil, intrinsicErr(c, "the first argument must be an array")
	}
	for _, e := range a {
		if jsonEqual(e, v[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(c *call, v []any) (any, *Error) {
	start, ok1 := asInt(v[0])
	end, ok2 := asInt(v[1])
	step, ok3 := asInt(v[2])
	if !ok1 || !ok2 || !ok3 {
		return nil, intrinsicErr(c, "the arguments must be integers")
	}
	if step == 0 {
		return nil, intrinsicErr(c, "the step must not be 0")
	}
	out := []any{}
	for i := start; (step > 0 && i <= end) || (step < 0 && i >= end); i += step {
		if len(out) == 1000 {
			return nil, intrinsicErr(c, "the result can have at most 1000 items")
		}
		out = append(out, float64(i))
	}
	return out, nil
}

func fnArrayGetItem(c *call, v []any) (any, *Error) {
	a, ok := v[0].([]any)
	if !ok {
		return nil, intrinsicErr(c, "the first argument must be an array")
	}
	i, ok := asInt(v[1])
	if !ok || i < 0 {
		return nil, intrinsicErr(c, "the index must be a non-negative integer")
	}
	if i >= len(a) {
		return nil, intrinsicErr(c, "the index %d is out of bounds", i)
	}
	return a[i], nil
}

func fnArrayLength(c *call, v []any) (any, *Error) {
	a, ok := v[0].([]any)
	if !ok {
		return nil, intrinsicErr(c, "the argument must be an array")
	}
	return float64(len(a)), nil
}

func fnArrayUnique(c *call, v []any) (any, *Error) {
	a, ok := v[0].([]any)
	if !ok {
		return nil, intrinsicErr(c, "the argument must be an array")
	}
	out := []any{}
	for _, e := range a {
		dup := false
		for _, o := range out {
			if jsonEqual(e, o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out, nil
}

// The 10,000-character limit on Base64 and Hash input is AWS's.
const maxIntrinsicString = 10000

func fnBase64Encode(c *call, v []any) (any, *Error) {
	s, ok := v[0].(string)
	if !ok {
		return nil, intrinsicErr(c, "the argument must be a string")
	}
	if len(s) > maxIntrinsicString {
		return nil, intrinsicErr(c, "the input must be at most %d characters", maxIntrinsicString)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(c *call, v []any) (any, *Error) {
	s, ok := v[0].(string)
	if !ok {
		return nil, intrinsicErr(c, "the argument must be a string")
	}
	if len(s) > maxIntrinsicString {
		return nil, intrinsicErr(c, "the input must be at most %d characters", maxIntrinsicString)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, intrinsicErr(c, "the argument is not valid Base64")
	}
	return string(b), nil
}

func fnHash(c *call, v []any) (any, *Error) {
	var data string
	switch d := v[0].(type) {
	case string:
		data = d
	case nil:
		return nil, intrinsicErr(c, "the data must not be null")
	default:
		data = compactJSON(d)
	}
	if len(data) > maxIntrinsicString {
		return nil, intrinsicErr(c, "the data must be at most %d characters", maxIntrinsicString)
	}
	alg, _ := v[1].(string)
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, intrinsicErr(c, "the hash algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512")
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(c *call, v []any) (any, *Error) {
	a, ok1 := v[0].(map[string]any)
	b, ok2 := v[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, intrinsicErr(c, "the first two arguments must be objects")
	}
	deep, ok := v[2].(bool)
	if !ok {
		return nil, intrinsicErr(c, "the third argument must be a boolean")
	}
	if deep {
		// AWS supports the shallow mode only.
		return nil, intrinsicErr(c, "deep merge is not supported; the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, x := range a {
		out[k] = x
	}
	for k, x := range b {
		out[k] = x
	}
	return out, nil
}

func fnMathRandom(c *call, v []any) (any, *Error) {
	return mathRandomFrom(c, v, cryptoDraw)
}

func cryptoDraw() [32]byte {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b
}

func mathRandomFrom(c *call, v []any, draw func() [32]byte) (any, *Error) {
	start, ok1 := asInt(v[0])
	end, ok2 := asInt(v[1])
	if !ok1 || !ok2 {
		return nil, intrinsicErr(c, "the start and end must be integers")
	}
	if end <= start {
		return nil, intrinsicErr(c, "the end must be greater than the start")
	}
	b := draw()
	r := mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:16]))).IntN
	if len(v) == 3 {
		seed, ok := asInt(v[2])
		if !ok {
			return nil, intrinsicErr(c, "the seed must be an integer")
		}
		rng := mrand.New(mrand.NewPCG(uint64(seed), 0))
		r = rng.IntN
	}
	return float64(start + r(end-start)), nil
}

func fnMathAdd(c *call, v []any) (any, *Error) {
	a, ok1 := asInt(v[0])
	b, ok2 := asInt(v[1])
	if !ok1 || !ok2 {
		return nil, intrinsicErr(c, "the arguments must be integers")
	}
	return float64(a + b), nil
}

func fnStringSplit(c *call, v []any) (any, *Error) {
	s, ok1 := v[0].(string)
	d, ok2 := v[1].(string)
	if !ok1 || !ok2 {
		return nil, intrinsicErr(c, "the arguments must be strings")
	}
	// Every character of the delimiter splits, and empty pieces are
	// dropped, as AWS does.
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fnUUID(c *call, v []any) (any, *Error) { return uuidFrom(c, v, cryptoDraw) }

func uuidFrom(_ *call, _ []any, draw func() [32]byte) (any, *Error) {
	d := draw()
	b := d[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// jsonEqual compares JSON values structurally.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// decodeJSON parses one JSON document into Go values.
func decodeJSON(b []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// marshal encodes v without HTML escaping, as AWS prints JSON.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}
