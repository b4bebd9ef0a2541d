package wire

import (
	"reflect"
	"testing"
)

func TestObjectRequestRoundTrip(t *testing.T) {
	for _, r := range []ObjectRequest{
		{},
		{Op: ObjectOpPut, TxID: "tx1", Entries: []ObjectEntry{{Key: "k", Value: []byte("v")}, {Key: "empty"}}},
		{Op: ObjectOpList, Prefix: "a", Start: "a1", End: "a9", Limit: 10, Reverse: true, Keys: []string{"x", ""}},
		{Op: ObjectOpWSSend, Tags: []string{"t"}, Tag: "t", Sockets: []string{"s1", "s2"}, Data: []byte{0, 1, 0xff}, Text: true,
			Code: 4000, Reason: "bye", AutoReq: "ping", AutoResp: "pong", AtMS: 1 << 41},
		{Op: ObjectOpStubFetch, Binding: "rooms", ID: "id", Name: "lobby", Connection: "c",
			Request: &StubRequest{Method: "POST", Path: "/x?y=1", Headers: []Header{{Name: "A", Values: []string{"1", "2"}}}, Body: []byte("body")}},
	} {
		enc := AppendObjectRequest(nil, &r)
		got, err := DecodeObjectRequest(enc)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !reflect.DeepEqual(*got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, r)
		}
		// Nothing aliases the encoding (the host decodes from guest memory).
		clear(enc)
		if !reflect.DeepEqual(*got, r) {
			t.Fatal("the decoded request aliases its encoding")
		}
		for n := range len(enc) {
			if _, err := DecodeObjectRequest(AppendObjectRequest(nil, &r)[:n]); err == nil {
				t.Fatalf("a request cut at %d of %d bytes decoded", n, len(enc))
			}
		}
	}
	if _, err := DecodeObjectRequest(append(AppendObjectRequest(nil, &ObjectRequest{}), 0)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

func TestObjectResponseRoundTrip(t *testing.T) {
	for _, r := range []ObjectResponse{
		{},
		{Entries: []ObjectEntry{{Key: "k", Value: []byte("v")}}, Count: 3, TxID: "tx2", AtMS: 42, Socket: "s", ID: "id"},
		{Sockets: []SocketInfo{{ID: "a", Tags: []string{"x"}, Attachment: []byte("me")}, {ID: "b"}}},
		{Response: &StubResponse{Status: 201, Headers: []Header{{Name: "B", Values: []string{"v"}}}, Body: []byte("ok")}},
	} {
		got, err := DecodeObjectResponse(AppendObjectResponse(nil, &r))
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !reflect.DeepEqual(*got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, r)
		}
	}
}
