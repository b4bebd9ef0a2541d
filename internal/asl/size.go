package asl

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// exceeds reports whether v's JSON encoding is longer than limit bytes,
// without encoding it: it sums the lengths and stops as soon as the limit
// is passed, so a transition pays a walk of its output, not a marshal.
func exceeds(v any, limit int) bool {
	n := 0
	return !measure(v, &n, limit)
}

// measure adds v's encoded size to *n; false once *n passes limit.
func measure(v any, n *int, limit int) bool {
	switch x := v.(type) {
	case nil:
		*n += 4
	case bool:
		*n += 4
		if !x {
			*n++
		}
	case float64:
		*n += floatSize(x)
	case string:
		*n += stringSize(x)
	case []any:
		*n += 2 + max(len(x)-1, 0) // brackets and commas
		for _, e := range x {
			if !measure(e, n, limit) {
				return false
			}
		}
	case map[string]any:
		*n += 2 + max(len(x)-1, 0) // braces and commas
		for k, e := range x {
			*n += stringSize(k) + 1 // the key and its colon
			if !measure(e, n, limit) {
				return false
			}
		}
	}
	return *n <= limit
}

// stringSize is the encoded length of s: quotes plus escapes for control
// characters, quotes and backslashes.
func stringSize(s string) int {
	n := 2 + len(s)
	if len(s) > 64 {
		// Long strings: assume few escapes rather than scanning twice.
		return n
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '\n' || c == '\r' || c == '\t' {
				n++
			} else if c < 0x20 {
				n += 5
			} else if c == '"' || c == '\\' {
				n++
			}
			i++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return n
}

// floatSize is the length encoding/json gives x: 'f' format between 1e-6
// and 1e21, otherwise 'e' with a two-digit exponent cut to one digit.
func floatSize(x float64) int {
	var buf [32]byte
	a := math.Abs(x)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		b := strconv.AppendFloat(buf[:0], x, 'e', -1, 64)
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-2] == '0' {
			return n - 1
		}
		return len(b)
	}
	return len(strconv.AppendFloat(buf[:0], x, 'f', -1, 64))
}
