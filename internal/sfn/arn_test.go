package sfn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMachineName(t *testing.T) {
	own := machineArn("p", "m")
	tests := []struct {
		name, arn, want, errType string
	}{
		{"own machine", own, "m", ""},
		{"empty", "", "", errMissingParameter},
		{"not an ARN", "m", "", errInvalidArn},
		{"an execution ARN", expressArn("p", "m", "e", "id"), "", errInvalidArn},
		{"a Lambda ARN", "arn:aws:lambda:us-east-1:123456789012:function:f", "", errInvalidArn},
		{"another project's", machineArn("q", "m"), "", errDoesNotExist},
		{"another region", "arn:aws:states:us-east-1:" + Account("p") + ":stateMachine:m", "", errDoesNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := machineName("p", tt.arn)
			if tt.errType == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.errType, ae.Type)
		})
	}
}

func TestAccountIsStableAndPerProject(t *testing.T) {
	require.Len(t, Account("p"), 12)
	require.Equal(t, Account("p"), Account("p"))
	require.NotEqual(t, Account("p"), Account("q"))
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "my-machine_1", "Ünïcode", "x"} {
		require.NoError(t, checkName("state machine", ok), ok)
	}
	long := make([]byte, 81)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "a b", "a:b", "a/b", "a*", "tab\there", string(long)} {
		err := checkName("state machine", bad)
		var ae *apiError
		require.ErrorAs(t, err, &ae, "%q", bad)
		require.Equal(t, errInvalidName, ae.Type)
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{
		"adder":      "adder",
		"adder:prod": "adder",
		"arn:aws:lambda:us-east-1:123456789012:function:adder":         "adder",
		"arn:aws:lambda:us-east-1:123456789012:function:adder:$LATEST": "adder",
	} {
		require.Equal(t, want, functionName(in), in)
	}
}
