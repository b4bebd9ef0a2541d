package manifest

import "fmt"

// MaxNesting is how deep collections may nest in a manifest. Real ones
// nest a handful of levels; the YAML parser's time grows faster than the
// depth (50,000 levels took 18 s to reject), so deeper input is refused
// before it is parsed.
const MaxNesting = 64

// checkNesting scans data for collections nested deeper than MaxNesting,
// without parsing it: flow collections ([ and { outside quotes and
// comments) and block nesting (each deeper indentation, and each "- " that
// opens a sequence entry on the line). It may overcount odd but valid
// YAML (a block scalar whose lines indent deeper and deeper), never
// undercount, so anything it lets through is at most about MaxNesting deep
// for the parser. It returns the position where the limit was crossed.
func checkNesting(data []byte) (Position, error) {
	var indents []int // block indentation levels open before this line
	flow := 0         // open [ and { (they may span lines)
	line := 1
	for i := 0; i < len(data); line++ {
		end := i
		for end < len(data) && data[end] != '\n' {
			end++
		}
		l := data[i:end]
		i = end + 1
		ind := 0
		for ind < len(l) && l[ind] == ' ' {
			ind++
		}
		if flow == 0 && ind < len(l) && l[ind] != '#' && l[ind] != '\r' {
			for len(indents) > 0 && indents[len(indents)-1] > ind {
				indents = indents[:len(indents)-1]
			}
			if len(indents) == 0 || indents[len(indents)-1] < ind {
				indents = append(indents, ind)
			}
			// "- - - x": each dash opens a sequence inside the last.
			dashes := 0
			for j := ind; j+1 < len(l) && l[j] == '-' && (l[j+1] == ' ' || l[j+1] == '\t'); {
				dashes++
				for j++; j < len(l) && (l[j] == ' ' || l[j] == '\t'); j++ {
				}
			}
			if depth := len(indents) + dashes; depth > MaxNesting {
				return Position{line, ind + 1}, fmt.Errorf("the YAML nests deeper than %d levels; a manifest needs a few", MaxNesting)
			}
		}
		var quote byte
		for j := 0; j < len(l); j++ {
			c := l[j]
			switch {
			case quote != 0:
				if c == quote {
					if quote == '\'' && j+1 < len(l) && l[j+1] == '\'' {
						j++ // '' inside single quotes
						continue
					}
					quote = 0
				} else if c == '\\' && quote == '"' {
					j++
				}
			case c == '"' || c == '\'':
				// A quote opens a string only where a scalar can start.
				if j == 0 || isSpaceOrFlow(l[j-1]) {
					quote = c
				}
			case c == '#' && (j == 0 || l[j-1] == ' ' || l[j-1] == '\t'):
				j = len(l) // a comment runs to the end of the line
			case c == '[' || c == '{':
				flow++
				if len(indents)+flow > MaxNesting {
					return Position{line, j + 1}, fmt.Errorf("the YAML nests deeper than %d levels; a manifest needs a few", MaxNesting)
				}
			case (c == ']' || c == '}') && flow > 0:
				flow--
			}
		}
	}
	return Position{}, nil
}

func isSpaceOrFlow(c byte) bool {
	return c == ' ' || c == '\t' || c == '[' || c == '{' || c == ',' || c == ':'
}
