package lambda

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestEventsDecodeAsAWSTypes decodes every expected event of the table
// cases into the types of AWS's own Go library (aws-lambda-go/events),
// refusing fields they do not know, so handlers built on them read what
// Strata sends.
func TestEventsDecodeAsAWSTypes(t *testing.T) {
	for kind, target := range map[string]func() any{
		"http_event":      func() any { return new(events.APIGatewayV2HTTPRequest) },
		"sqs_event":       func() any { return new(events.SQSEvent) },
		"scheduled_event": func() any { return new(events.EventBridgeEvent) },
	} {
		files, err := filepath.Glob(filepath.Join("testdata", kind, "*.txt"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no cases for %s: %v", kind, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, out, _ := strings.Cut(string(data), separator)
			d := json.NewDecoder(strings.NewReader(out))
			d.DisallowUnknownFields()
			if err := d.Decode(target()); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
}

// TestAWSResponsesAreRead reads results marshalled from aws-lambda-go's
// response types, as a handler built on them returns them.
func TestAWSResponsesAreRead(t *testing.T) {
	b, err := json.Marshal(events.APIGatewayV2HTTPResponse{
		StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json"},
		Cookies: []string{"a=1; Path=/", "b=2"}, Body: `{"id":7}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := HTTPResponse(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if resp.Status != 201 || string(resp.Body) != `{"id":7}` || len(resp.Headers) != 2 ||
		resp.Headers[1].Name != "Set-Cookie" || len(resp.Headers[1].Values) != 2 {
		t.Fatalf("%s read as %+v", b, resp)
	}

	// The zero response: status 0 is no HTTP status.
	b, _ = json.Marshal(events.APIGatewayV2HTTPResponse{})
	if _, err := HTTPResponse(b); err == nil || !bytes.Contains([]byte(err.Error()), []byte("statusCode")) {
		t.Fatalf("%s: %v", b, err)
	}
}
