package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/sdk/go/wire"
)

// HTTPEvent is an API Gateway HTTP API request event, payload format 2.0.
type HTTPEvent struct {
	Version               string             `json:"version"`
	RouteKey              string             `json:"routeKey"`
	RawPath               string             `json:"rawPath"`
	RawQueryString        string             `json:"rawQueryString"`
	Cookies               []string           `json:"cookies,omitempty"`
	Headers               map[string]string  `json:"headers"`
	QueryStringParameters map[string]string  `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string  `json:"pathParameters,omitempty"`
	RequestContext        HTTPRequestContext `json:"requestContext"`
	Body                  string             `json:"body,omitempty"`
	IsBase64Encoded       bool               `json:"isBase64Encoded"`
}

// HTTPRequestContext is the requestContext of an HTTPEvent.
type HTTPRequestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         HTTPDetails `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

// HTTPDetails is requestContext.http of an HTTPEvent.
type HTTPDetails struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// DefaultRouteKey is the route key of a request no route of the function
// matched by pattern (an async invoke carrying an HTTP request).
const DefaultRouteKey = "$default"

// requestTimeLayout is requestContext.time's layout (CLF, as API Gateway).
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// RouteKey is the API Gateway route key of a Strata route: its method
// ("ANY" for every method) and path, with a catch-all parameter
// ({rest...} or *) written as API Gateway's greedy {rest+}.
func RouteKey(method, path string) string {
	if method == "" || method == "*" {
		method = "ANY"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "*":
			segs[i] = "{proxy+}"
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			segs[i] = strings.TrimSuffix(s, "...}") + "+}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}

// NewHTTPEvent builds the event of req, an HTTP request that matched the
// route with routeKey, received over protocol ("HTTP/1.1").
func NewHTTPEvent(inv Invocation, routeKey, protocol string, req *wire.Request) *HTTPEvent {
	ev := &HTTPEvent{
		Version:        "2.0",
		RouteKey:       routeKey,
		RawPath:        (&url.URL{Path: req.Path}).EscapedPath(),
		RawQueryString: req.RawQuery,
		Headers:        map[string]string{},
	}
	contentType := ""
	for _, h := range req.Headers {
		name := strings.ToLower(h.Name)
		if name == "cookie" {
			for _, v := range h.Values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		v := strings.Join(h.Values, ",")
		if prev, ok := ev.Headers[name]; ok {
			v = prev + "," + v
		}
		ev.Headers[name] = v
		if name == "content-type" {
			contentType = v
		}
	}
	host := req.Host
	if host == "" {
		host = ev.Headers["host"]
	}
	if host != "" {
		ev.Headers["host"] = host
	}
	// A malformed pair is skipped; the others are kept (rawQueryString
	// has everything).
	if q, _ := url.ParseQuery(req.RawQuery); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(req.Params) > 0 {
		ev.PathParameters = make(map[string]string, len(req.Params))
		for _, p := range req.Params {
			ev.PathParameters[p.Name] = p.Value
		}
	}
	domain, _, err := net.SplitHostPort(host)
	if err != nil {
		domain = host
	}
	prefix, _, _ := strings.Cut(domain, ".")
	sourceIP, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		sourceIP = req.RemoteAddr
	}
	t := inv.Time.UTC()
	ev.RequestContext = HTTPRequestContext{
		AccountID: inv.Account, APIID: inv.Account, DomainName: domain, DomainPrefix: prefix,
		HTTP: HTTPDetails{
			Method: req.Method, Path: req.Path, Protocol: protocol,
			SourceIP: sourceIP, UserAgent: ev.Headers["user-agent"],
		},
		RequestID: inv.RequestID, RouteKey: routeKey, Stage: "$default",
		Time: t.Format(requestTimeLayout), TimeEpoch: t.UnixMilli(),
	}
	if len(req.Body) > 0 {
		if isText(contentType) && utf8.Valid(req.Body) {
			ev.Body = string(req.Body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(req.Body), true
		}
	}
	return ev
}

// HTTPEventRequest is the request that delivers req's event to a function.
func HTTPEventRequest(inv Invocation, routeKey, protocol string, req *wire.Request) (*wire.Request, error) {
	b, err := marshal(NewHTTPEvent(inv, routeKey, protocol, req))
	if err != nil {
		return nil, fmt.Errorf("encode API Gateway event: %w", err)
	}
	return jsonRequest(b), nil
}

// isText reports whether a body of contentType travels as text in an
// event; any other goes base64-encoded (isBase64Encoded). A body without a
// content type is text when it is valid UTF-8.
func isText(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch {
	case ct == "", strings.HasPrefix(ct, "text/"):
		return true
	case strings.HasSuffix(ct, "/json"), strings.HasSuffix(ct, "+json"),
		strings.HasSuffix(ct, "/xml"), strings.HasSuffix(ct, "+xml"),
		strings.HasSuffix(ct, "/javascript"), strings.HasSuffix(ct, "/x-www-form-urlencoded"),
		strings.HasSuffix(ct, "/yaml"), strings.HasSuffix(ct, "/graphql"):
		return true
	}
	return false
}

// httpResult is the structured response of format 2.0 (with format 1.0's
// multiValueHeaders, which API Gateway also reads), each field kept raw so
// that a wrong type is reported by name.
type httpResult struct {
	StatusCode        json.RawMessage `json:"statusCode"`
	Headers           json.RawMessage `json:"headers"`
	MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
	Cookies           json.RawMessage `json:"cookies"`
	Body              json.RawMessage `json:"body"`
	IsBase64Encoded   json.RawMessage `json:"isBase64Encoded"`
}

// HTTPResponse turns a function's result into the HTTP response, as API
// Gateway does for payload format 2.0: a JSON object with a statusCode is
// a structured response (statusCode, headers, multiValueHeaders, cookies,
// body, isBase64Encoded); any other JSON is answered 200 as the body, with
// content type application/json; an empty result is an empty 200. Anything
// else is an error wrapping ErrBadResponse that says what is wrong.
func HTTPResponse(result []byte) (*wire.Response, error) {
	trimmed := bytes.TrimSpace(result)
	if len(trimmed) == 0 {
		return &wire.Response{Status: 200}, nil
	}
	notJSON := func() error {
		return fmt.Errorf("%w: the result is not JSON (a Lambda-shaped function answers a JSON value, such as {\"statusCode\":200,\"body\":\"...\"}); it starts %s",
			ErrBadResponse, excerpt(trimmed))
	}
	// One pass reads an object's fields and checks it is JSON; a
	// statusCode among them makes it a structured response.
	var r httpResult
	if trimmed[0] == '{' {
		if json.Unmarshal(trimmed, &r) != nil {
			return nil, notJSON()
		}
	} else if !json.Valid(trimmed) {
		return nil, notJSON()
	}
	if r.StatusCode == nil {
		return &wire.Response{Status: 200, Body: trimmed, Headers: []wire.Header{
			{Name: "Content-Type", Values: []string{"application/json"}},
		}}, nil
	}
	return r.response()
}

func (r *httpResult) response() (*wire.Response, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadResponse, fmt.Sprintf(format, args...))
	}
	var status int
	if err := json.Unmarshal(r.StatusCode, &status); err != nil || status < 200 || status > 599 {
		return nil, bad("statusCode must be an integer HTTP status from 200 to 599, got %s", excerpt(r.StatusCode))
	}
	resp := &wire.Response{Status: status}
	if isSet(r.Headers) {
		var hs map[string]json.RawMessage
		if err := json.Unmarshal(r.Headers, &hs); err != nil {
			return nil, bad("headers must be an object of header names to strings, got %s", excerpt(r.Headers))
		}
		for _, name := range sortedKeys(hs) {
			if !validHeader(name, "") {
				return nil, bad("headers: %q is not a valid header name", name)
			}
			v, ok := scalar(hs[name])
			if !ok || !validHeader(name, v) {
				return nil, bad("headers.%s must be a string, number or boolean that is a valid header value, got %s", name, excerpt(hs[name]))
			}
			resp.Headers = append(resp.Headers, wire.Header{Name: name, Values: []string{v}})
		}
	}
	if isSet(r.MultiValueHeaders) {
		var hs map[string][]string
		if err := json.Unmarshal(r.MultiValueHeaders, &hs); err != nil {
			return nil, bad("multiValueHeaders must be an object of header names to lists of strings, got %s", excerpt(r.MultiValueHeaders))
		}
		for _, name := range sortedKeys(hs) {
			if !validHeader(name, "") {
				return nil, bad("multiValueHeaders: %q is not a valid header name", name)
			}
			for _, v := range hs[name] {
				if !validHeader(name, v) {
					return nil, bad("multiValueHeaders.%s holds %q, which is not a valid header value", name, v)
				}
			}
			resp.Headers = addValues(resp.Headers, name, hs[name])
		}
	}
	if isSet(r.Cookies) {
		var cs []string
		if err := json.Unmarshal(r.Cookies, &cs); err != nil {
			return nil, bad("cookies must be a list of strings (each a Set-Cookie value), got %s", excerpt(r.Cookies))
		}
		for _, c := range cs {
			if !validHeader("Set-Cookie", c) {
				return nil, bad("cookies holds %q, which is not a valid Set-Cookie value", c)
			}
		}
		resp.Headers = addValues(resp.Headers, "Set-Cookie", cs)
	}
	var b64 bool
	if isSet(r.IsBase64Encoded) {
		if err := json.Unmarshal(r.IsBase64Encoded, &b64); err != nil {
			return nil, bad("isBase64Encoded must be true or false, got %s", excerpt(r.IsBase64Encoded))
		}
	}
	if isSet(r.Body) {
		var body string
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return nil, bad("body must be a string (encode JSON bodies with JSON.stringify or json.dumps), got %s", excerpt(r.Body))
		}
		if b64 {
			dec, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				return nil, bad("isBase64Encoded is true but body is not base64: %v", err)
			}
			resp.Body = dec
		} else {
			resp.Body = []byte(body)
		}
	}
	return resp, nil
}

// addValues appends values to the header name in hs (matching names
// case-insensitively), or adds it.
func addValues(hs []wire.Header, name string, values []string) []wire.Header {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			hs[i].Values = append(hs[i].Values, values...)
			return hs
		}
	}
	return append(hs, wire.Header{Name: name, Values: append([]string(nil), values...)})
}

// isSet reports a field present and not null.
func isSet(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// scalar is the header value of a JSON string, number or boolean.
func scalar(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

// validHeader reports a header name made of token characters and a value
// without control characters other than tab.
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// excerpt is the start of a bad value, for an error message.
func excerpt(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	const limit = 80
	short := len(b) > limit
	if short {
		b = b[:limit]
	}
	s := string(b)
	if short || !json.Valid(b) {
		s = strconv.Quote(s)
	}
	if short {
		s += "…"
	}
	return s
}

// timeMillis is t as Unix milliseconds in decimal, as SQS attributes.
func timeMillis(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}
