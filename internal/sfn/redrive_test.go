package sfn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEffectKeys(t *testing.T) {
	for _, c := range []struct {
		key  string
		path string
		seq  int
		ok   bool
	}{
		{"r:3", "r", 3, true},
		{"r:3^", "r", 3, true},
		{"r:3~2", "r", 3, true},
		{"r:5b1:2", "r:5b1", 2, true},
		{"r:5m12:7~1", "r:5m12", 7, true},
		{"$definition", "", 0, false},
		{"r:x", "", 0, false},
	} {
		path, seq, ok := effectOf(c.key)
		require.Equal(t, c.ok, ok, c.key)
		if ok {
			require.Equal(t, c.path, path, c.key)
			require.Equal(t, c.seq, seq, c.key)
		}
	}
	for _, c := range []struct {
		path, parent string
		seq          int
		ok           bool
	}{
		{"r:5b1", "r", 5, true},
		{"r:5m12", "r", 5, true},
		{"r:5b1:3m0", "r:5b1", 3, true},
		{"r", "", 0, false},
		{"r:5", "", 0, false},
	} {
		parent, seq, ok := spawnedBy(c.path)
		require.Equal(t, c.ok, ok, c.path)
		if ok {
			require.Equal(t, c.parent, parent, c.path)
			require.Equal(t, c.seq, seq, c.path)
		}
	}
}
