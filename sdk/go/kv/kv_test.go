package kv

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

func TestOptionsAndAnswers(t *testing.T) {
	var got []wire.KVRequest
	prev := hostcall.Binding
	t.Cleanup(func() { hostcall.Binding = prev })
	hostcall.Binding = func(op hostcall.Op, req []byte) (int32, []byte) {
		var r wire.KVRequest
		if err := json.Unmarshal(req, &r); err != nil || op != hostcall.KV {
			t.Fatalf("%d %s %v", op, req, err)
		}
		got = append(got, r)
		switch r.Op {
		case wire.KVGet:
			return 0, []byte(`{"found":true}`)
		case wire.KVList:
			return 0, []byte(`{"entries":[{"key":"a","value":"eA==","expires_at_ms":1000}],"next":"a"}`)
		}
		return 0, []byte(`{}`)
	}
	ctx := context.Background()
	ns := Open("cache")
	if err := ns.Put(ctx, "k", []byte("v"), TTL(1500*time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	if got[0].TTLMS != 2 || got[0].Binding != "cache" {
		t.Fatalf("put %+v", got[0])
	}
	if err := ns.Put(ctx, "k", nil, TTL(-time.Second)); err == nil || len(got) != 1 {
		t.Fatalf("negative TTL: %v", err)
	}
	v, ok, err := ns.Get(ctx, "k")
	if err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v %v", v, ok, err)
	}
	entries, next, err := ns.List(ctx, "", After("0"), Limit(5))
	if err != nil || next != "a" || len(entries) != 1 || string(entries[0].Value) != "x" || !entries[0].ExpiresAt.Equal(time.UnixMilli(1000)) {
		t.Fatalf("list %+v %q %v", entries, next, err)
	}
	if got[2].After != "0" || got[2].Limit != 5 {
		t.Fatalf("list request %+v", got[2])
	}
	if _, _, err := ns.List(ctx, "", Limit(0)); err == nil || !strings.Contains(err.Error(), "limit 0") {
		t.Fatalf("limit 0: %v", err)
	}
}
