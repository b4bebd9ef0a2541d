package trace

import "strings"

// maxSQLOp bounds what SQLOp returns: a span attribute, not a statement.
const maxSQLOp = 32

// SQLOp is the first words of a SQL statement, upper-cased, for a span's
// attribute: "SELECT", "INSERT INTO", "DELETE FROM", "CREATE TABLE". It
// never holds a table name, a literal or anything after the keywords, so
// no data reaches a trace; leading comments and whitespace are skipped.
// A statement that starts with no keyword gives "".
func SQLOp(sql string) string {
	sql = skipSpaceAndComments(sql)
	first, rest := word(sql)
	if first == "" {
		return ""
	}
	op := strings.ToUpper(first)
	switch op {
	case "INSERT", "REPLACE", "DELETE", "CREATE", "DROP", "ALTER":
		// The second word says what kind: INSERT INTO, DELETE FROM,
		// CREATE TABLE / INDEX / VIEW.
		second, _ := word(skipSpaceAndComments(rest))
		if second != "" && len(op)+1+len(second) <= maxSQLOp {
			op += " " + strings.ToUpper(second)
		}
	}
	if len(op) > maxSQLOp {
		op = op[:maxSQLOp]
	}
	return op
}

// word splits off a leading run of ASCII letters.
func word(s string) (string, string) {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	return s[:i], s[i:]
}

func skipSpaceAndComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			return s
		}
	}
}
