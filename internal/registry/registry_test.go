package registry

import "testing"

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{"fn": "fn", "fn@3": "fn", "a@b@12": "a@b", "x@y": "x@y"} {
		if got := functionName(in); got != want {
			t.Errorf("functionName(%q) = %q, want %q", in, got, want)
		}
	}
}
