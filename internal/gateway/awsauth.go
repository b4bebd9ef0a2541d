package gateway

import (
	"net/http"
	"strings"
)

// AWSProjectHeader names the project a token of every project acts on
// when it comes to an AWS-compatible API (Step Functions, Lambda) as a
// Bearer token; with SigV4 the region of the credential scope names it.
const AWSProjectHeader = "X-Strata-Project"

// AWSCredential finds the Strata API token of a request to one of the
// AWS-compatible APIs, and the project it names: the access key id and
// region of a SigV4 Authorization header
// (AWS4-HMAC-SHA256 Credential=<token>/<date>/<region>/<service>/aws4_request),
// or a Bearer token and the AWSProjectHeader. The signature is not
// verified: the token itself is the secret, so the request must travel
// over TLS. token is "" when the request carries none.
func AWSCredential(r *http.Request) (token, region string) {
	auth := r.Header.Get("Authorization")
	if rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 "); ok {
		for _, part := range strings.Split(rest, ",") {
			if cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				scope := strings.Split(cred, "/")
				token = scope[0]
				if len(scope) > 2 {
					region = scope[2]
				}
			}
		}
		return token, region
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		return tok, r.Header.Get(AWSProjectHeader)
	}
	return "", ""
}
