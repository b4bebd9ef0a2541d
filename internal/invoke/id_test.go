package invoke

import (
	"strings"
	"testing"
)

func TestInvocationIDsAreUUIDv7(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		id := newInvocationID(new([36]byte))
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		// The millisecond prefix never goes backwards.
		if prev != "" && id[:13] < prev[:13] {
			t.Fatalf("ids out of time order: %s after %s", id, prev)
		}
		prev = id
	}
}
