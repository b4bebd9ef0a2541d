package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeHost answers SQL calls with answer and records the requests.
func fakeHost(t *testing.T, answer func(wire.SQLRequest) (int32, string)) *[]wire.SQLRequest {
	t.Helper()
	var got []wire.SQLRequest
	prev := hostcall.Binding
	hostcall.Binding = func(op hostcall.Op, req []byte) (int32, []byte) {
		if op != hostcall.SQL {
			t.Fatalf("op %d", op)
		}
		var r wire.SQLRequest
		if err := json.Unmarshal(req, &r); err != nil {
			t.Fatalf("request %s: %v", req, err)
		}
		got = append(got, r)
		code, text := answer(r)
		return code, []byte(text)
	}
	t.Cleanup(func() { hostcall.Binding = prev })
	return &got
}

func TestOutsideAFunction(t *testing.T) {
	_, err := Open("db").Exec(context.Background(), "DELETE FROM t")
	if err == nil || !strings.Contains(err.Error(), "only inside a Strata function") {
		t.Fatalf("got %v", err)
	}
}

func TestErrorsAndTransactions(t *testing.T) {
	reqs := fakeHost(t, func(r wire.SQLRequest) (int32, string) {
		switch {
		case r.Op == wire.SQLBegin:
			return 0, `{"tx":"t1"}`
		case r.SQL == "bad":
			return 0, `{"error":{"code":"42601","message":"syntax error at or near \"bad\""}}`
		case r.SQL == "refused":
			return -2, `binding "db" is not declared`
		}
		return 0, `{"rows_affected":"2"}`
	})
	ctx := context.Background()
	d := Open("db")
	_, err := d.Exec(ctx, "bad")
	var dbe *Error
	if !errors.As(err, &dbe) || dbe.Code != "42601" || dbe.Error() != `db: syntax error at or near "bad" (42601)` {
		t.Fatalf("database error: %v", err)
	}
	_, err = d.Exec(ctx, "refused")
	if err == nil || errors.As(err, &dbe) || err.Error() != `db db: exec: binding "db" is not declared` {
		t.Fatalf("platform error: %v", err)
	}
	_, err = d.Exec(ctx, "x", struct{}{})
	if err == nil || !strings.Contains(err.Error(), "argument $1") {
		t.Fatalf("bad argument: %v", err)
	}

	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Exec(ctx, "UPDATE t SET a = $1", int8(3))
	if err != nil || res.RowsAffected != 2 {
		t.Fatalf("%v %v", res, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "x"); !errors.Is(err, ErrTxDone) {
		t.Fatalf("after commit: %v", err)
	}
	if err := tx.Rollback(ctx); !errors.Is(err, ErrTxDone) {
		t.Fatalf("rollback after commit: %v", err)
	}
	want := []wire.SQLRequest{{Op: "begin", Binding: "db"}, {Op: "exec", Binding: "db", Tx: "t1", SQL: "UPDATE t SET a = $1", Args: []wire.SQLValue{wire.Int(3)}}, {Op: "commit", Binding: "db", Tx: "t1"}}
	if got, _ := json.Marshal((*reqs)[2:]); string(got) != mustJSON(want) {
		t.Fatalf("requests %s", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Query(cctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestScan(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	row := []wire.SQLValue{wire.Int(300), wire.Float(2), wire.Text("12"), wire.Bytes([]byte("b")), wire.Int(1), wire.Time(ts), wire.Null(), wire.Text("2026-01-02 03:04:05")}
	var (
		i64  int64
		f32  float32
		i    int
		s    string
		ok   bool
		tm   time.Time
		ns   NullString
		sqlN sql.NullInt64
		pp   *string
		a    any
		tm2  time.Time
		bs   []byte
	)
	rows := &Rows{cols: make([]wire.SQLColumn, len(row)), rows: [][]wire.SQLValue{row}}
	if !rows.Next() {
		t.Fatal("no row")
	}
	if err := rows.Scan(&i64, &f32, &i, &bs, &ok, &tm, &ns, &tm2); err != nil {
		t.Fatal(err)
	}
	if i64 != 300 || f32 != 2 || i != 12 || string(bs) != "b" || !ok || !tm.Equal(ts) || ns.Valid || !tm2.Equal(ts.Truncate(time.Second)) {
		t.Fatalf("got %v %v %v %q %v %v %+v %v", i64, f32, i, bs, ok, tm, ns, tm2)
	}
	if err := rows.Scan(&s, &s, &s, &s, &a, &s, &sqlN, &s); err != nil || sqlN.Valid || a != int64(1) {
		t.Fatalf("%v %+v %v", err, sqlN, a)
	}
	pp = &s
	if err := rows.Scan(&s, &s, &s, &s, &s, &s, &pp, &s); err != nil || pp != nil {
		t.Fatalf("**string of NULL: %v %v", err, pp)
	}
	if err := rows.Scan(&pp, &s, &s, &s, &s, &s, &a, &s); err != nil || pp == nil || *pp != "300" {
		t.Fatalf("**string: %v %v", err, pp)
	}

	bad := []struct {
		v    wire.SQLValue
		dest any
		want string
	}{
		{wire.Null(), new(string), "NULL into *string"},
		{wire.Int(300), new(int8), "overflows int8"},
		{wire.Int(-1), new(uint), "overflows uint"},
		{wire.Float(1.5), new(int64), "float 1.5 into an integer"},
		{wire.Int(2), new(bool), "integer 2 into a bool"},
		{wire.Text("x"), new(time.Time), `text "x" is not a time`},
		{wire.Float(math.Inf(1)), new(string), ""},
		{wire.Int(1), new(struct{}), "unsupported destination"},
	}
	for _, b := range bad {
		rows := &Rows{cols: []wire.SQLColumn{{Name: "c"}}, rows: [][]wire.SQLValue{{b.v}}}
		rows.Next()
		err := rows.Scan(b.dest)
		if b.want == "" {
			if err != nil {
				t.Errorf("%v into %T: %v", b.v, b.dest, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), `column 0 ("c")`) {
			t.Errorf("%v into %T: got %v, want %q", b.v, b.dest, err, b.want)
		}
	}

	if err := (&Row{rows: &Rows{}}).Scan(&s); !errors.Is(err, ErrNoRows) {
		t.Fatalf("empty: %v", err)
	}
	if err := (&Rows{rows: [][]wire.SQLValue{row}}).Scan(&s); err == nil {
		t.Fatal("Scan before Next accepted")
	}
}
