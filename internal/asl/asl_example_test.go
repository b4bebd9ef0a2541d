package asl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/asl"
)

// upper is a Tasks implementation: it upper-cases the "text" field.
type upper struct{}

func (upper) Invoke(_ context.Context, _ string, params json.RawMessage, _ string) (json.RawMessage, error) {
	var in struct{ Text string }
	if err := json.Unmarshal(params, &in); err != nil {
		return nil, &asl.Error{Name: "BadInput", Cause: err.Error()}
	}
	return json.Marshal(map[string]string{"text": strings.ToUpper(in.Text)})
}

func Example() {
	def, err := asl.Parse([]byte(`{
	  "StartAt": "Shout",
	  "States": {
	    "Shout": {
	      "Type": "Task", "Resource": "upper",
	      "Parameters": {"Text.$": "States.Format('hello, {}', $.name)"},
	      "ResultSelector": {"greeting.$": "$.text"},
	      "ResultPath": "$.result",
	      "End": true
	    }
	  }
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := asl.Run(context.Background(), def, []byte(`{"name":"ann"}`), asl.Options{Tasks: upper{}})
	fmt.Println(string(out), err)
	// Output: {"name":"ann","result":{"greeting":"HELLO, ANN"}} <nil>
}

func ExampleParse_invalid() {
	_, err := asl.Parse([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`))
	fmt.Println(err)
	// Output: Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'
}
