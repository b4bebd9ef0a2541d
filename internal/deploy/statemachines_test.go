package deploy

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
)

const passDef = `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`

func TestStateMachinesPlan(t *testing.T) {
	s := spec("shop", fn("api", sha('1')))
	s.StateMachines = []apitype.StateMachineSpec{
		{Name: "orders", Type: record.StateMachineExpress, Definition: passDef},
		{Name: "audit", Type: record.StateMachineStandard, Definition: passDef},
		{Name: "same", Type: record.StateMachineStandard, Definition: passDef},
	}
	cur := State{StateMachines: []record.StateMachine{
		{Project: "shop", Name: "audit", Type: record.StateMachineStandard, Definition: `{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}`, Revision: 3},
		{Project: "shop", Name: "old", Type: record.StateMachineExpress, Definition: passDef},
		{Project: "shop", Name: "same", Type: record.StateMachineStandard, Definition: passDef},
	}}
	p, err := Compute(s, cur)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, p.Write(&b))
	require.Contains(t, b.String(), "+ state machine orders (EXPRESS)\n~ state machine audit: definition\n- state machine old\n")
	require.NotContains(t, b.String(), "same")
	require.Contains(t, b.String(), "; state machines: 1 to add, 1 to change, 1 to remove\n")
	require.Equal(t, int64(3), p.StateMachinesChange[0].New.Revision)
}

// TestTaskFunctions: Tasks naming functions are found in nested Parallel
// branches and Map processors; ARNs are left to the runtime.
func TestTaskFunctions(t *testing.T) {
	def := `{"StartAt":"P","States":{
	  "P":{"Type":"Parallel","Next":"M","Branches":[{"StartAt":"a/b","States":{"a/b":{"Type":"Task","Resource":"charge:live","End":true}}}]},
	  "M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"ship","End":true}}}},
	  "L":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`
	require.Equal(t, []TaskFunction{
		{Function: "ship", Pointer: "/States/M/ItemProcessor/States/S/Resource"},
		{Function: "charge", Pointer: "/States/P/Branches/0/States/a~1b/Resource"},
	}, TaskFunctions([]byte(def)))
	require.Nil(t, TaskFunctions([]byte("{")))
}
