package wire

import (
	"reflect"
	"testing"
)

// A view decodes what DecodeRequest decodes, and a view reused for a
// second, smaller request holds nothing of the first.
func TestRequestViewRoundTrip(t *testing.T) {
	var v RequestView
	want := sampleRequest()
	if err := v.Decode(AppendRequest(nil, want)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&v.Request, want) {
		t.Fatalf("view:\n got %+v\nwant %+v", v.Request, *want)
	}
	small := &Request{Method: "GET", Path: "/", Headers: []Header{{Name: "A", Values: []string{"1"}}}}
	if err := v.Decode(AppendRequest(nil, small)); err != nil {
		t.Fatal(err)
	}
	if len(v.Headers) != 1 || v.Headers[0].Name != "A" || len(v.Params) != 0 || len(v.Body) != 0 || v.InvocationID != "" {
		t.Fatalf("reused view: %+v", v.Request)
	}
	// Appending to one header's values must not reach the next header's.
	if err := v.Decode(AppendRequest(nil, want)); err != nil {
		t.Fatal(err)
	}
	_ = append(v.Headers[0].Values, "overwrite?")
	if v.Headers[1].Values[0] != "a" {
		t.Fatalf("header values share capacity: %+v", v.Headers)
	}
}

func TestRequestViewRejectsTruncation(t *testing.T) {
	b := AppendRequest(nil, sampleRequest())
	var v RequestView
	for n := range len(b) - 1 {
		if err := v.Decode(b[:n]); err == nil {
			t.Fatalf("decoded a request cut at %d of %d bytes", n, len(b))
		}
	}
}

func TestResponseViewRoundTrip(t *testing.T) {
	for _, want := range []*Response{
		{Status: 201, Headers: []Header{{Name: "Content-Type", Values: []string{"text/plain"}}, {Name: "X-Multi", Values: []string{"a", "b"}}}, Body: []byte("body")},
		{Status: 204},
		{Status: 200, Headers: manyHeaders(20)},
	} {
		got, err := ResponseView(AppendResponse(nil, want))
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Body) == 0 {
			got.Body = want.Body
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("view:\n got %+v\nwant %+v", got, want)
		}
	}
	b := AppendResponse(nil, &Response{Status: 200, Headers: manyHeaders(3), Body: []byte("x")})
	for n := range len(b) - 1 {
		if _, err := ResponseView(b[:n]); err == nil {
			t.Fatalf("decoded a response cut at %d of %d bytes", n, len(b))
		}
	}
	if _, err := ResponseView(AppendResponse(nil, &Response{Status: 42})); err == nil {
		t.Fatal("status 42 accepted")
	}
}

func manyHeaders(n int) []Header {
	hs := make([]Header, n)
	for i := range hs {
		hs[i] = Header{Name: string(rune('A' + i)), Values: []string{"v"}}
	}
	return hs
}
