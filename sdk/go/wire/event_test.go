package wire

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestEventOptionsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		o    EventOptions
	}{
		{"zero", EventOptions{}},
		{"all", EventOptions{ContentType: "application/json", Type: "user.signed_up", Subject: "u/42",
			GroupID: "g1", DedupID: "d\x00ff", DelayMS: 1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEventOptions(AppendEventOptions(nil, &tt.o))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.o) {
				t.Fatalf("round trip: got %+v want %+v", *got, tt.o)
			}
		})
	}
	if o, err := DecodeEventOptions(nil); err != nil || *o != (EventOptions{}) {
		t.Fatalf("empty input: %+v %v", o, err)
	}
}

func TestDecodeEventOptionsRejects(t *testing.T) {
	good := AppendEventOptions(nil, &EventOptions{Type: "t", DelayMS: 5})
	negative := AppendEventOptions(nil, &EventOptions{})
	binary.LittleEndian.PutUint64(negative[len(negative)-8:], uint64(0xffffffffffffffff))
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated", good[:len(good)-1]},
		{"version", append([]byte{9}, good[1:]...)},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"huge length", []byte{Version, 0xff, 0xff, 0xff, 0x7f}},
		{"negative delay", negative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if o, err := DecodeEventOptions(tt.in); err == nil {
				t.Fatalf("decoded %+v, want an error", o)
			}
		})
	}
}

func FuzzDecodeEventOptions(f *testing.F) {
	f.Add(AppendEventOptions(nil, &EventOptions{ContentType: "a", Type: "b", Subject: "c", GroupID: "d", DedupID: "e", DelayMS: 7}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeEventOptions(b)
		if err != nil {
			return
		}
		again, err := DecodeEventOptions(AppendEventOptions(nil, o))
		if err != nil || *again != *o {
			t.Fatalf("re-encode: %+v %v, want %+v", again, err, o)
		}
	})
}
