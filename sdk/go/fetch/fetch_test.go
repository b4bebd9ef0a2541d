package fetch

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

func TestClientThroughFakeHost(t *testing.T) {
	var got wire.FetchRequest
	prev := hostcall.Binding
	t.Cleanup(func() { hostcall.Binding = prev })
	hostcall.Binding = func(op hostcall.Op, req []byte) (int32, []byte) {
		if op != hostcall.Fetch {
			t.Fatalf("op %d", op)
		}
		if err := json.Unmarshal(req, &got); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(got.URL, "refused") {
			return -2, []byte("fetch " + got.URL + ": host is not in the fetch allow-list")
		}
		ans, _ := json.Marshal(wire.FetchResponse{Status: 404, URL: "https://b.example/final",
			Headers: []wire.FetchHeader{{Name: "x-a", Values: []string{"1", "2"}}}, Body: []byte("nope")})
		return 0, ans
	}

	c := Client()
	c.Timeout = 3 * time.Second
	req, _ := http.NewRequest("PUT", "https://a.example/p?q=1", strings.NewReader("body"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || resp.Status != "404 Not Found" || string(body) != "nope" ||
		resp.Header["X-A"][1] != "2" || resp.Request.URL.String() != "https://b.example/final" {
		t.Fatalf("response %+v %q", resp, body)
	}
	if got.Method != "PUT" || got.URL != "https://a.example/p?q=1" || string(got.Body) != "body" ||
		got.TimeoutMS <= 0 || got.TimeoutMS > 3000 || len(got.Headers) != 1 || got.Headers[0].Name != "Content-Type" {
		t.Fatalf("request %+v", got)
	}

	_, err = Get(context.Background(), "https://refused.example/")
	if err == nil || err.Error() != "fetch https://refused.example/: host is not in the fetch allow-list" {
		t.Fatalf("refusal: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Get(ctx, "https://a.example/"); err == nil {
		t.Fatal("canceled context accepted")
	}
}

func TestOutsideAFunction(t *testing.T) {
	_, err := Get(context.Background(), "https://a.example/")
	if err == nil || !strings.Contains(err.Error(), "only inside a Strata function") {
		t.Fatalf("got %v", err)
	}
}
