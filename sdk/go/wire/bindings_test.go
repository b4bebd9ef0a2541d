package wire

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSQLValueRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 30, 0, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"null", nil, nil},
		{"int", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"negative int", int32(-7), int64(-7)},
		{"zero int", 0, int64(0)},
		{"float", 1.5, 1.5},
		{"text", "héllo \x00 wörld", "héllo \x00 wörld"},
		{"empty text", "", ""},
		{"bytes", []byte{0, 0xff, 0xfe, 'a'}, []byte{0, 0xff, 0xfe, 'a'}},
		{"empty bytes", []byte{}, []byte{}},
		{"bool true", true, true},
		{"bool false", false, false},
		{"time", ts, ts},
		{"+inf", math.Inf(1), math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ValueOf(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var back SQLValue
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			got, err := back.Any()
			if err != nil {
				t.Fatal(err)
			}
			switch want := tt.want.(type) {
			case time.Time:
				if g, ok := got.(time.Time); !ok || !g.Equal(want) {
					t.Fatalf("got %v, want %v", got, want)
				}
			case []byte:
				if g, ok := got.([]byte); !ok || string(g) != string(want) {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			default:
				if got != tt.want {
					t.Fatalf("got %#v (%s), want %#v", got, data, tt.want)
				}
			}
		})
	}
}

func TestSQLValueNaN(t *testing.T) {
	data, err := json.Marshal(Float(math.NaN()))
	if err != nil {
		t.Fatal(err)
	}
	var back SQLValue
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Any()
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := got.(float64); !ok || !math.IsNaN(f) {
		t.Fatalf("got %v", got)
	}
}

func TestIntsTravelAsStrings(t *testing.T) {
	// 2^53+1 is not representable as a float64: a JavaScript guest must
	// still read it exactly.
	data, err := json.Marshal(SQLResponse{Rows: [][]SQLValue{{Int(1<<53 + 1)}}, RowsAffected: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"i":"9007199254740993"`, `"rows_affected":"3"`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("%s lacks %s", data, want)
		}
	}
}

func TestValueOfRejects(t *testing.T) {
	for _, x := range []any{uint64(math.MaxUint64), struct{}{}, []int{1}} {
		if _, err := ValueOf(x); err == nil {
			t.Errorf("ValueOf(%T) succeeded", x)
		}
	}
	if _, err := (SQLValue{Type: "decimal"}).Any(); err == nil {
		t.Error("unknown type decoded")
	}
	if _, err := (SQLValue{Type: TypeTime, Text: "yesterday"}).Any(); err == nil {
		t.Error("bad time decoded")
	}
}

func TestFetchHeaderBinarySafe(t *testing.T) {
	in := FetchRequest{
		URL: "https://api.example.org/x",
		Headers: []FetchHeader{
			{Name: "Content-Type", Values: []string{"text/plain"}},
			{Name: "X-Raw", Values: []string{"caf\xe9", "ok"}}, // Latin-1, not UTF-8
		},
		Body: []byte{0, 1, 2, 0xff},
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out FetchRequest
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Headers) != 2 || out.Headers[1].Values[0] != "caf\xe9" || out.Headers[1].Values[1] != "ok" ||
		out.Headers[0].Values[0] != "text/plain" || string(out.Body) != string(in.Body) {
		t.Fatalf("round trip changed the request: %+v from %s", out, data)
	}
	if !strings.Contains(string(data), `"b":[`) || !strings.Contains(string(data), `"v":["text/plain"]`) {
		t.Fatalf("unexpected encoding %s", data)
	}
	if err := json.Unmarshal([]byte(`{"n":"a","v":["x"],"b":["eA=="]}`), &FetchHeader{}); err == nil {
		t.Fatal("header with both encodings accepted")
	}
}

func TestSQLErrorMessage(t *testing.T) {
	e := &SQLError{Code: "23505", Message: "duplicate key"}
	if e.Error() != "duplicate key (23505)" {
		t.Fatal(e.Error())
	}
}
