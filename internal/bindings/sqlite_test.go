package bindings

import "testing"

func TestSQLiteParams(t *testing.T) {
	for _, tt := range []struct {
		sql   string
		n     int
		named bool
	}{
		{"SELECT 1", 0, false},
		{"SELECT $1, $2", 2, false},
		{"SELECT $2", 2, false},
		{"SELECT ?, ?", 2, false},
		{"SELECT ?3, ?", 4, false},
		{"SELECT '$1 ?', \"a?\", [b$2], `c?` FROM t WHERE x = $1", 1, false},
		{"SELECT 1 -- $5 ?\n, $1", 1, false},
		{"SELECT /* ? $9 */ $1", 1, false},
		{"SELECT a$b FROM t", 0, false},
		{"SELECT :name, @other", 0, true},
		{"SELECT $name", 0, true},
		{"SELECT 'unterminated $1", 0, false},
	} {
		n, named := sqliteParams(tt.sql)
		if n != tt.n || named != tt.named {
			t.Errorf("sqliteParams(%q) = %d, %v; want %d, %v", tt.sql, n, named, tt.n, tt.named)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT 1":                           true,
		"  select * from t;":                 true,
		"SELECT 1; DELETE FROM t":            false,
		"WITH x AS (SELECT 1) DELETE FROM t": false,
		"INSERT INTO t VALUES (1)":           false,
		"":                                   false,
	} {
		if got := readOnly(sql); got != want {
			t.Errorf("readOnly(%q) = %v", sql, got)
		}
	}
}
