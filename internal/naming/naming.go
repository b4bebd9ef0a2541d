package naming

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest name, in bytes.
const MaxLen = 63

// Rule is the sentence every rejected name is explained with.
const Rule = "must be a lowercase letter followed by up to 62 lowercase letters, digits or '-'"

// Check reports whether s is a valid name. Its error is the rule, the
// name as given and, when one exists, a valid name close to it.
func Check(s string) error {
	if s == "" {
		return errors.New("must not be empty; " + Rule)
	}
	if Valid(s) {
		return nil
	}
	if sug := Suggest(s); sug != "" {
		return fmt.Errorf("%s, got %q; try %q", Rule, s, sug)
	}
	return fmt.Errorf("%s, got %q", Rule, s)
}

// Valid reports whether s follows the rule.
func Valid(s string) bool {
	ok := s != "" && len(s) <= MaxLen && 'a' <= s[0] && s[0] <= 'z'
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	return ok
}

// Suggest returns a valid name close to s: lower case, with '_', '.' and
// spaces turned into '-' and runs of '-' folded. It returns
// "" when that is not enough (another character, no letter to start
// with, or too long): a suggestion that silently drops part of a name would mislead.
func Suggest(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case r == '-' || r == '_' || r == '.' || r == ' ':
			dash = true
		default:
			return ""
		}
	}
	// A name that is too long is not suggested cut short: only its
	// owner knows which part carries the meaning.
	out := strings.TrimRight(b.String(), "-")
	if !Valid(out) {
		return ""
	}
	return out
}
