package naming_test

import (
	"testing"

	"github.com/stratahq/strata/internal/naming"
)

func TestCheck(t *testing.T) {
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g12"
	for _, tc := range []struct{ in, want string }{
		{"hello", ""},
		{"my-app-2", ""},
		{long, ""},
		{"", "must not be empty; " + naming.Rule},
		{"my_app", naming.Rule + `, got "my_app"; try "my-app"`},
		{"My.App", naming.Rule + `, got "My.App"; try "my-app"`},
		{"Hello World", naming.Rule + `, got "Hello World"; try "hello-world"`},
		{"9lives", naming.Rule + `, got "9lives"`},
		{"a__b--c_", naming.Rule + `, got "a__b--c_"; try "a-b-c"`},
		{long + "x", naming.Rule + `, got "` + long + `x"`},
		{"123", naming.Rule + `, got "123"`},
		{"ünïcode", naming.Rule + `, got "ünïcode"`},
		{"-lead", naming.Rule + `, got "-lead"; try "lead"`},
		{"_-_", naming.Rule + `, got "_-_"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			err := naming.Check(tc.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("Check(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if sug := naming.Suggest(tc.in); sug != "" && !naming.Valid(sug) {
				t.Fatalf("Suggest(%q) = %q is not valid", tc.in, sug)
			}
		})
	}
}
