package apitype

// Prefix is where the admin API is mounted.
const Prefix = "/_strata/api/v1"

// Response headers the gateway adds to every function response.
const (
	HeaderInvocationID = "X-Strata-Invocation-Id"
	HeaderVersion      = "X-Strata-Version"
	// HeaderEventID is the CloudEvents id of the event a direct invoke
	// with ?event= wrapped its data in.
	HeaderEventID = "X-Strata-Event-Id"
)

// Request headers of a direct invoke (POST /functions/{name}/invoke): the
// method and path the function sees (default POST and "/").
const (
	HeaderMethod = "X-Strata-Method"
	HeaderPath   = "X-Strata-Path"
)

// Request headers of a message sent to a queue or published to a topic
// (POST /queues/{name}/messages, POST /topics/{name}/messages); the body
// is the event's data and Content-Type its type.
const (
	HeaderEventType    = "Ce-Type"    // CloudEvents type
	HeaderEventSource  = "Ce-Source"  // CloudEvents source
	HeaderEventSubject = "Ce-Subject" // CloudEvents subject
	HeaderGroupID      = "X-Strata-Group-Id"
	HeaderDedupID      = "X-Strata-Dedup-Id"
	HeaderDelay        = "X-Strata-Delay" // a Go duration, 0 to 15m
)

// ErrorBody is the JSON body of every error Strata itself answers with.
type ErrorBody struct {
	Error        string `json:"error"`
	Status       int    `json:"status"`
	InvocationID string `json:"invocation_id,omitempty"`
}
