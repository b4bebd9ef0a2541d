package wire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

func sampleRequest() *Request {
	return &Request{
		Method: "POST", Path: "/items/42", RawQuery: "a=1", Host: "example.test", RemoteAddr: "10.0.0.1:1",
		Headers:      []Header{{Name: "Content-Type", Values: []string{"application/json"}}, {Name: "X-Multi", Values: []string{"a", "b"}}},
		Params:       []Param{{Name: "id", Value: "42"}},
		Body:         []byte("{\"x\":\x00\xff}"),
		InvocationID: "inv-1", TraceParent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01", DeadlineMS: 1_900_000_000_000,
	}
}

func TestRequestRoundTrip(t *testing.T) {
	want := sampleRequest()
	got, err := DecodeRequest(AppendRequest(nil, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	want := &Response{Status: 404, Headers: []Header{{Name: "A", Values: []string{"1"}}}, Body: []byte{0, 1, 2}}
	got, err := DecodeResponse(AppendResponse([]byte("prefix"), want)[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	full := AppendRequest(nil, sampleRequest())
	for n := range len(full) {
		if _, err := DecodeRequest(full[:n]); err == nil {
			t.Fatalf("request truncated to %d of %d bytes decoded without error", n, len(full))
		}
	}
	if _, err := DecodeRequest([]byte{2}); err == nil {
		t.Fatal("wrong version accepted")
	}
	huge := binary.LittleEndian.AppendUint32([]byte{Version}, 0xffffffff)
	if _, err := DecodeRequest(huge); err != ErrShort {
		t.Fatalf("hostile length: got %v, want ErrShort", err)
	}
	if _, err := DecodeResponse(AppendResponse(nil, &Response{Status: 42})); err == nil {
		t.Fatal("status 42 accepted")
	}
}

// normalize maps empty slices to nil: the encoding does not tell them apart.
func normalizeRequest(r *Request) {
	if len(r.Headers) == 0 {
		r.Headers = nil
	}
	for i := range r.Headers {
		if len(r.Headers[i].Values) == 0 {
			r.Headers[i].Values = nil
		}
	}
	if len(r.Params) == 0 {
		r.Params = nil
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(AppendRequest(nil, sampleRequest()))
	f.Add(AppendRequest(nil, &Request{}))
	f.Add([]byte{Version, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		again, err := DecodeRequest(AppendRequest(nil, r))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		normalizeRequest(r)
		normalizeRequest(again)
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", r, again)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(AppendResponse(nil, &Response{Status: 200, Headers: []Header{{Name: "A", Values: []string{"b"}}}, Body: []byte("x")}))
	f.Add([]byte{Version, 200, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			return
		}
		enc := AppendResponse(nil, r)
		again, err := DecodeResponse(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Status != r.Status || !bytes.Equal(again.Body, r.Body) || len(again.Headers) != len(r.Headers) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", r, again)
		}
	})
}
