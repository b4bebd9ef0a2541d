package wire

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randString mixes ASCII, characters JSON must escape, multi-byte UTF-8,
// characters outside the BMP and invalid UTF-8.
func randString(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "<", ">", "&", "é", "€", "😀", "\u2028", "\xff", "\xe2\x82", "\ufffd"}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randValue(r *rand.Rand) SQLValue {
	switch r.IntN(8) {
	case 0:
		return Null()
	case 1:
		return Int(r.Int64() - r.Int64())
	case 2:
		return Float([]float64{0, -0.5, 1e300, 5e-324, r.NormFloat64(), math.NaN(), math.Inf(-1)}[r.IntN(7)])
	case 3:
		return Text(randString(r))
	case 4:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return Bytes(b)
	case 5:
		return Bool(r.IntN(2) == 0)
	case 6:
		return Time(time.Unix(r.Int64N(1<<40), r.Int64N(1e9)).UTC())
	}
	return Int(0)
}

// viaJSON is what encoding/json makes of v after a round trip.
func viaJSON[T any](t *testing.T, data []byte) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("encoding/json rejects %s: %v", data, err)
	}
	return out
}

func TestSQLJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		req := SQLRequest{Op: randString(r), Binding: randString(r), Tx: randString(r), SQL: randString(r)}
		for range r.IntN(4) {
			req.Args = append(req.Args, randValue(r))
		}
		mine, err := AppendSQLRequest(nil, &req)
		if err != nil {
			t.Fatal(err)
		}
		std, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := viaJSON[SQLRequest](t, mine), viaJSON[SQLRequest](t, std); !equalJSON(t, got, want) {
			t.Fatalf("case %d: request\n mine %s\n std  %s", i, mine, std)
		}

		resp := SQLResponse{RowsAffected: r.Int64() - r.Int64(), LastInsertID: r.Int64N(100), Tx: randString(r)}
		for range r.IntN(3) {
			resp.Columns = append(resp.Columns, SQLColumn{Name: randString(r), Type: randString(r)})
		}
		for range r.IntN(4) {
			var row []SQLValue
			for range r.IntN(4) {
				row = append(row, randValue(r))
			}
			resp.Rows = append(resp.Rows, row)
		}
		if r.IntN(4) == 0 {
			resp.Error = &SQLError{Code: randString(r), Message: randString(r)}
		}
		std, err = json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSQLResponse(std)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, std)
		}
		if want := viaJSON[SQLResponse](t, std); !equalJSON(t, *got, want) {
			t.Fatalf("case %d: response %s", i, std)
		}
	}
}

// equalJSON compares through encoding/json, which tells a nil from an
// empty slice only where the format does.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestParseSQLResponseByHand(t *testing.T) {
	tests := []struct {
		name, in string
		want     SQLResponse
	}{
		{"whitespace, unknown keys, nulls", " {\n \"future\": {\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\"\"} , \"tx\" : null, \"rows\":[[ {\"t\":\"int\",\"i\":\"-5\",\"zz\":true} , null ]],\"error\":null }\t",
			SQLResponse{Rows: [][]SQLValue{{{Type: TypeInt, Int: -5}, {}}}}},
		{"escapes and surrogates", `{"tx":"a\u00e9\ud83d\ude00\n\/\ud800x\udc00"}`,
			SQLResponse{Tx: "aé😀\n/\ufffdx\ufffd"}},
		{"a high surrogate before another escape", `{"tx":"\ud800\u0041"}`, SQLResponse{Tx: "\ufffdA"}},
		{"bare integers and floats", `{"rows_affected":7,"rows":[[{"t":"float","f":-1.5e3},{"t":"bytes","b":"AAE="}]]}`,
			SQLResponse{RowsAffected: 7, Rows: [][]SQLValue{{{Type: TypeFloat, Float: -1500}, {Type: TypeBytes, Bytes: []byte{0, 1}}}}}},
		{"empty", `{}`, SQLResponse{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSQLResponse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !equalJSON(t, *got, tt.want) {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `{`, `{"tx":}`, `{"tx":"a}`, `{"tx":"a"`, `{"tx":"a",}`, `[]`, `{"rows_affected":"x"}`,
		`{"rows":[[{"t":"bytes","b":"!!"}]]}`, `{"tx":"\q"}`, `{"tx":"a"} x`, "{\"tx\":\"\x01\"}", `{"rows":[[{"v":1}]]}`} {
		if _, err := ParseSQLResponse([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestAppendSQLRequestRejectsNaN(t *testing.T) {
	if _, err := AppendSQLRequest(nil, &SQLRequest{Args: []SQLValue{{Type: TypeFloat, Float: math.NaN()}}}); err == nil {
		t.Fatal("NaN in Float accepted")
	}
}

func BenchmarkSQLJSON(b *testing.B) {
	req := SQLRequest{Op: SQLQuery, Binding: "db", SQL: "SELECT name FROM items WHERE id = $1", Args: []SQLValue{Int(500)}}
	ans := []byte(`{"columns":[{"name":"name","type":"TEXT"}],"rows":[[{"t":"text","s":"item-500"}]]}`)
	b.Run("hand", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf, _ = AppendSQLRequest(buf[:0], &req)
			if _, err := ParseSQLResponse(ans); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for range b.N {
			_, _ = json.Marshal(req)
			var r SQLResponse
			if err := json.Unmarshal(ans, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
