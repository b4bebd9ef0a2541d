package wire

// Hand-written JSON for the SQL host call's hot path. Guests decode with
// encoding/json's reflection, which in WebAssembly costs tens of
// microseconds for a one-row answer: more than the query. These functions
// write and read the same JSON as encoding/json does for SQLRequest and
// SQLResponse (the format stays JSON, other guests keep using their JSON
// libraries), without reflection. Keys are matched exactly, as the host
// writes them; unknown keys are skipped, null leaves a field unset.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendSQLRequest appends r as JSON, as json.Marshal would write it.
func AppendSQLRequest(dst []byte, r *SQLRequest) ([]byte, error) {
	dst = append(dst, `{"op":`...)
	dst = AppendJSONString(dst, r.Op)
	dst = append(dst, `,"binding":`...)
	dst = AppendJSONString(dst, r.Binding)
	if r.Tx != "" {
		dst = append(dst, `,"tx":`...)
		dst = AppendJSONString(dst, r.Tx)
	}
	if r.SQL != "" {
		dst = append(dst, `,"sql":`...)
		dst = AppendJSONString(dst, r.SQL)
	}
	if len(r.Args) > 0 {
		dst = append(dst, `,"args":[`...)
		for i := range r.Args {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendSQLValue(dst, &r.Args[i]); err != nil {
				return nil, fmt.Errorf("wire: argument %d: %w", i+1, err)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

func appendSQLValue(dst []byte, v *SQLValue) ([]byte, error) {
	dst = append(dst, `{"t":`...)
	dst = AppendJSONString(dst, v.Type)
	if v.Int != 0 {
		dst = append(dst, `,"i":"`...)
		dst = strconv.AppendInt(dst, v.Int, 10)
		dst = append(dst, '"')
	}
	if v.Float != 0 {
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return nil, fmt.Errorf("unsupported float %v (use wire.Float, which carries it as text)", v.Float)
		}
		dst = append(dst, `,"f":`...)
		dst = strconv.AppendFloat(dst, v.Float, 'g', -1, 64)
	}
	if v.Text != "" {
		dst = append(dst, `,"s":`...)
		dst = AppendJSONString(dst, v.Text)
	}
	if len(v.Bytes) > 0 {
		dst = append(dst, `,"b":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes)
		dst = append(dst, '"')
	}
	if v.Bool {
		dst = append(dst, `,"v":true`...)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s quoted as a JSON string. Invalid UTF-8
// becomes U+FFFD, as with encoding/json. The SDK's hand-written encoders
// (SQL requests, flow requests) share it: reflection-based JSON costs more
// than the work inside WebAssembly.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ParseSQLResponse reads an SQLResponse written as JSON.
func ParseSQLResponse(data []byte) (*SQLResponse, error) {
	s := &scanner{data: data}
	var r SQLResponse
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "columns":
			return s.array(func() error {
				var c SQLColumn
				err := s.object(func(key []byte) error {
					switch string(key) {
					case "name":
						return s.stringInto(&c.Name)
					case "type":
						return s.stringInto(&c.Type)
					}
					return s.skip()
				})
				r.Columns = append(r.Columns, c)
				return err
			})
		case "rows":
			return s.array(func() error {
				var row []SQLValue
				if s.null() {
					r.Rows = append(r.Rows, row)
					return nil
				}
				err := s.array(func() error {
					var v SQLValue
					err := s.sqlValue(&v)
					row = append(row, v)
					return err
				})
				r.Rows = append(r.Rows, row)
				return err
			})
		case "rows_affected":
			return s.quotedInt(&r.RowsAffected)
		case "last_insert_id":
			return s.quotedInt(&r.LastInsertID)
		case "tx":
			return s.stringInto(&r.Tx)
		case "error":
			if s.null() {
				return nil
			}
			r.Error = &SQLError{}
			return s.object(func(key []byte) error {
				switch string(key) {
				case "code":
					return s.stringInto(&r.Error.Code)
				case "message":
					return s.stringInto(&r.Error.Message)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	if err != nil {
		return nil, err
	}
	if s.ws(); s.pos != len(s.data) {
		return nil, s.errorf("trailing data")
	}
	return &r, nil
}

func (s *scanner) sqlValue(v *SQLValue) error {
	if s.null() {
		return nil
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "t":
			return s.stringInto(&v.Type)
		case "i":
			return s.quotedInt(&v.Int)
		case "f":
			if s.null() {
				return nil
			}
			num, err := s.number()
			if err != nil {
				return err
			}
			if v.Float, err = strconv.ParseFloat(string(num), 64); err != nil {
				return s.errorf("bad float %q", num)
			}
			return nil
		case "s":
			return s.stringInto(&v.Text)
		case "b":
			if s.null() {
				return nil
			}
			raw, err := s.rawString()
			if err != nil {
				return err
			}
			b := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
			n, err := base64.StdEncoding.Decode(b, raw)
			if err != nil {
				return s.errorf("bad base64: %v", err)
			}
			v.Bytes = b[:n]
			return nil
		case "v":
			if s.null() {
				return nil
			}
			return s.boolean(&v.Bool)
		}
		return s.skip()
	})
}

// scanner is a small JSON reader over one buffer.
type scanner struct {
	data []byte
	pos  int
	buf  []byte // scratch for unescaping
}

var errEOF = errors.New("unexpected end of JSON")

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("wire: JSON at offset %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it.
func (s *scanner) peek() (byte, error) {
	s.ws()
	if s.pos >= len(s.data) {
		return 0, errEOF
	}
	return s.data[s.pos], nil
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// null consumes a null if one is next.
func (s *scanner) null() bool { return s.literal("null") }

func (s *scanner) boolean(dst *bool) error {
	switch {
	case s.literal("true"):
		*dst = true
	case s.literal("false"):
		*dst = false
	default:
		return s.errorf("want a bool")
	}
	return nil
}

// object calls field for each key, with the scanner at the value, which
// field must consume.
func (s *scanner) object(field func(key []byte) error) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.errorf("want an object")
	}
	s.pos++
	if c, err := s.peek(); err != nil {
		return err
	} else if c == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if c, err := s.peek(); err != nil {
			return err
		} else if c != ':' {
			return s.errorf("want ':'")
		}
		s.pos++
		if err := field(key); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
			continue
		case '}':
			return nil
		}
		s.pos--
		return s.errorf("want ',' or '}'")
	}
}

// array calls elem for each element, with the scanner at it.
func (s *scanner) array(elem func() error) error {
	if s.null() {
		return nil
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '[' {
		return s.errorf("want an array")
	}
	s.pos++
	if c, err := s.peek(); err != nil {
		return err
	} else if c == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
			continue
		case ']':
			return nil
		}
		s.pos--
		return s.errorf("want ',' or ']'")
	}
}

func (s *scanner) stringInto(dst *string) error {
	if s.null() {
		return nil
	}
	b, err := s.rawString()
	if err != nil {
		return err
	}
	*dst = string(b)
	return nil
}

// quotedInt reads an int64 written as a decimal string (",string"), or
// as a bare number.
func (s *scanner) quotedInt(dst *int64) error {
	if s.null() {
		return nil
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	var num []byte
	if c == '"' {
		num, err = s.rawString()
	} else {
		num, err = s.number()
	}
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return s.errorf("bad integer %q", num)
	}
	*dst = n
	return nil
}

func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.pos++
			continue
		}
		break
	}
	if s.pos == start {
		return nil, s.errorf("want a number")
	}
	return s.data[start:s.pos], nil
}

// rawString reads a string and returns its unescaped bytes, valid until
// the next call (they alias the input or the scratch buffer).
func (s *scanner) rawString() ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		return nil, s.errorf("want a string")
	}
	s.pos++
	start := s.pos
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '"':
			s.pos++
			return s.data[start : s.pos-1], nil
		case c == '\\':
			return s.escapedString(start)
		case c < 0x20:
			return nil, s.errorf("control character in string")
		}
		s.pos++
	}
	return nil, errEOF
}

func (s *scanner) escapedString(start int) ([]byte, error) {
	out := append(s.buf[:0], s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			s.buf = out
			return out, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return nil, errEOF
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; a lone half is U+FFFD, as in
				// encoding/json.
				r2 := rune(-1)
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					if x, ok := s.hex4(); ok {
						r2 = x
					} else {
						s.pos = save
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
				} else {
					if r2 >= 0 {
						s.pos -= 6 // not a pair: read the second escape on its own
					}
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.errorf("bad escape \\%c", e)
		}
	}
	return nil, errEOF
}

func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.pos += 4
	return r, true
}

// skip consumes one value of any kind.
func (s *scanner) skip() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, err := s.rawString()
		return err
	case s.literal("true"), s.literal("false"), s.literal("null"):
		return nil
	}
	_, err = s.number()
	return err
}
