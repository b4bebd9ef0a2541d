package wire

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Task tokens of STANDARD state machine executions (.waitForTaskToken).
// A token names the execution and the key of the callback it completes;
// SendTaskSuccess and SendTaskFailure deliver the outcome as a signal of
// the execution (TaskSignal), which works only within the execution's
// project: the platform looks the execution up in the caller's project.
const taskTokenPrefix = "strata1."

// TaskToken is the token of the callback key of execution.
func TaskToken(execution, key string) string {
	return taskTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(execution+"\x00"+key))
}

// ParseTaskToken splits a token made by TaskToken.
func ParseTaskToken(tok string) (execution, key string, ok bool) {
	rest, ok := strings.CutPrefix(tok, taskTokenPrefix)
	if !ok {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", "", false
	}
	execution, key, ok = strings.Cut(string(b), "\x00")
	return execution, key, ok && execution != "" && key != ""
}

// TaskSignal is the signal that completes callback key; its value is a
// TaskOutcome. TaskHeartbeatSignal keeps it alive; its value is the time
// of the heartbeat (RFC 3339).
func TaskSignal(key string) string          { return "task:" + key }
func TaskHeartbeatSignal(key string) string { return "beat:" + key }

// TaskOutcome is what completes a Task: its output, or its error and
// cause.
type TaskOutcome struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}
