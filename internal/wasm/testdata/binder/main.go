// Command binder is a test guest that uses the SQL, KV, fetch and secret
// bindings as its query says (?op=...; see the cases below). Arguments of
// SQL statements are repeated "arg" parameters with a type prefix: i:5,
// f:1.5, s:text, x:<hex bytes>, b:true, t:<RFC 3339>, n: (NULL).
//
// It answers 200 with the result, 409 "dberror=<code>|<message>" for a
// database error, 404 "norows" for db.ErrNoRows and 502 "error=<message>"
// for anything else.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
	"github.com/stratahq/strata/sdk/go/fetch"
	"github.com/stratahq/strata/sdk/go/kv"
	"github.com/stratahq/strata/sdk/go/secrets"
)

func init() { strata.HandleFunc(handle) }

func main() {}

func args(q url.Values) ([]any, error) {
	var out []any
	for _, a := range q["arg"] {
		t, v, _ := strings.Cut(a, ":")
		switch t {
		case "i":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case "f":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		case "s":
			out = append(out, v)
		case "x":
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case "b":
			out = append(out, v == "true")
		case "t":
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, err
			}
			out = append(out, tm)
		case "n":
			out = append(out, nil)
		default:
			return nil, fmt.Errorf("bad arg %q", a)
		}
	}
	return out, nil
}

// printRows writes the column names, then one line per row of %T:%v cells.
func printRows(w io.Writer, rows *db.Rows) error {
	defer rows.Close()
	fmt.Fprintln(w, strings.Join(rows.Columns(), "|"))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				cells[i] = fmt.Sprintf("[]uint8:%x", b)
				continue
			}
			if t, ok := v.(time.Time); ok {
				cells[i] = "time.Time:" + t.Format(time.RFC3339Nano)
				continue
			}
			cells[i] = fmt.Sprintf("%T:%v", v, v)
		}
		fmt.Fprintln(w, strings.Join(cells, "|"))
	}
	return rows.Err()
}

func handle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx := r.Context()
	if err := run(ctx, w, q); err != nil {
		var dbe *db.Error
		switch {
		case errors.As(err, &dbe):
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "dberror=%s|%s", dbe.Code, dbe.Message)
		case errors.Is(err, db.ErrNoRows):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "norows")
		default:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "error=%v", err)
		}
	}
}

func run(ctx context.Context, w io.Writer, q url.Values) error {
	binding := q.Get("db")
	if binding == "" {
		binding = "db"
	}
	d := db.Open(binding)
	ns := kv.Open(cmpOr(q.Get("kv"), "cache"))
	switch q.Get("op") {
	case "sql-exec":
		a, err := args(q)
		if err != nil {
			return err
		}
		res, err := d.Exec(ctx, q.Get("sql"), a...)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "affected=%d last=%d", res.RowsAffected, res.LastInsertID)
	case "sql-query":
		a, err := args(q)
		if err != nil {
			return err
		}
		rows, err := d.Query(ctx, q.Get("sql"), a...)
		if err != nil {
			return err
		}
		return printRows(w, rows)
	case "sql-typed":
		// The statement returns one row of: integer, float, text, blob,
		// bool (0/1 in SQLite), time (as text), nullable text, nullable
		// integer.
		a, err := args(q)
		if err != nil {
			return err
		}
		var (
			i  int64
			f  float64
			s  string
			b  []byte
			ok bool
			t  time.Time
			ns db.NullString
			p  *int64
		)
		if err := d.QueryRow(ctx, q.Get("sql"), a...).Scan(&i, &f, &s, &b, &ok, &t, &ns, &p); err != nil {
			return err
		}
		ptr := "nil"
		if p != nil {
			ptr = strconv.FormatInt(*p, 10)
		}
		fmt.Fprintf(w, "i=%d f=%g s=%s b=%x ok=%t t=%s ns=%v/%s p=%s", i, f, s, b, ok, t.UTC().Format(time.RFC3339Nano), ns.Valid, ns.V, ptr)
	case "sql-row":
		a, err := args(q)
		if err != nil {
			return err
		}
		var s string
		if err := d.QueryRow(ctx, q.Get("sql"), a...).Scan(&s); err != nil {
			return err
		}
		fmt.Fprintf(w, "row=%s", s)
	case "sql-tx":
		// Runs each "sql" in one transaction, then "check" inside it (its
		// count is printed), then ends it as "end" says: commit, rollback
		// or open (left for the platform to roll back).
		tx, err := d.Begin(ctx)
		if err != nil {
			return err
		}
		for _, s := range q["sql"] {
			if _, err := tx.Exec(ctx, s); err != nil {
				_ = tx.Rollback(ctx)
				return err
			}
		}
		if c := q.Get("check"); c != "" {
			var n int
			if err := tx.QueryRow(ctx, c).Scan(&n); err != nil {
				return err
			}
			fmt.Fprintf(w, "inside=%d ", n)
		}
		switch q.Get("end") {
		case "commit":
			err = tx.Commit(ctx)
		case "rollback":
			err = tx.Rollback(ctx)
		}
		if err != nil {
			return err
		}
		if q.Get("end") != "open" {
			if _, err := tx.Exec(ctx, "SELECT 1"); !errors.Is(err, db.ErrTxDone) {
				return fmt.Errorf("use after end: %v", err)
			}
		}
		fmt.Fprintf(w, "tx %s", cmpOr(q.Get("end"), "open"))
	case "sql-null":
		var s string
		return d.QueryRow(ctx, "SELECT NULL").Scan(&s)
	case "kv-put":
		var opts []kv.PutOption
		if ms := q.Get("ttl_ms"); ms != "" {
			n, _ := strconv.Atoi(ms)
			opts = append(opts, kv.TTL(time.Duration(n)*time.Millisecond))
		}
		if err := ns.Put(ctx, q.Get("key"), []byte(q.Get("value")), opts...); err != nil {
			return err
		}
		fmt.Fprint(w, "put")
	case "kv-get":
		v, ok, err := ns.Get(ctx, q.Get("key"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "found=%t value=%s", ok, v)
	case "kv-del":
		ok, err := ns.Delete(ctx, q.Get("key"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "deleted=%t", ok)
	case "kv-list":
		var opts []kv.ListOption
		if a := q.Get("after"); a != "" {
			opts = append(opts, kv.After(a))
		}
		if l := q.Get("limit"); l != "" {
			n, _ := strconv.Atoi(l)
			opts = append(opts, kv.Limit(n))
		}
		entries, next, err := ns.List(ctx, q.Get("prefix"), opts...)
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintf(w, "%s=%s ", e.Key, e.Value)
		}
		fmt.Fprintf(w, "next=%s", next)
	case "fetch":
		var body io.Reader
		if b := q.Get("body"); b != "" {
			body = strings.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, cmpOr(q.Get("method"), "GET"), q.Get("url"), body)
		if err != nil {
			return err
		}
		for _, h := range q["h"] {
			name, v, _ := strings.Cut(h, ":")
			req.Header.Add(name, strings.TrimSpace(v))
		}
		client := fetch.Client()
		if ms := q.Get("timeout_ms"); ms != "" {
			n, _ := strconv.Atoi(ms)
			client.Timeout = time.Duration(n) * time.Millisecond
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(w, "status=%d url=%s x-test=%s len=%d sha=%x", resp.StatusCode, resp.Request.URL, resp.Header.Get("X-Test"), len(b), sum[:8])
		if len(b) <= 200 {
			fmt.Fprintf(w, " body=%s", b)
		}
	case "secret":
		v, err := secrets.Get(ctx, q.Get("name"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "secret=%s", v)
	case "bench":
		// Runs the point query n times and answers the per-call times in
		// nanoseconds, sorted, comma-separated.
		n, _ := strconv.Atoi(cmpOr(q.Get("n"), "100"))
		a, err := args(q)
		if err != nil {
			return err
		}
		times := make([]int64, n)
		var s string
		for i := range n {
			start := time.Now()
			if err := d.QueryRow(ctx, q.Get("sql"), a...).Scan(&s); err != nil {
				return err
			}
			times[i] = int64(time.Since(start))
		}
		slices.Sort(times)
		parts := make([]string, n)
		for i, t := range times {
			parts[i] = strconv.FormatInt(t, 10)
		}
		fmt.Fprint(w, strings.Join(parts, ","))
	default:
		return fmt.Errorf("unknown op %q", q.Get("op"))
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
