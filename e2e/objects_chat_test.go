package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// The chat-room example: two browser tabs in Debian's chromium, then Go
// WebSocket clients across the Room's hibernation and a SIGKILL of the
// server.

// chatEntry is one message as the Room broadcasts and lists it.
type chatEntry struct {
	Seq  int    `json:"seq"`
	User string `json:"user"`
	Text string `json:"text"`
}

// chatDial opens a WebSocket to a room as user, failing the test on error.
func chatDial(t *testing.T, base, room, user string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), objWait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, strings.Replace(base, "http://", "ws://", 1)+"/rooms/"+room+"/ws?user="+user, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial room %s as %s: %v (status %d)", room, user, err, status)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// chatSend sends a text message.
func chatSend(t *testing.T, ws *websocket.Conn, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), objWait)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

// chatRead reads the next message and checks who sent what.
func chatRead(t *testing.T, ws *websocket.Conn, user, text string) chatEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), objWait)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read (want %s: %s): %v", user, text, err)
	}
	var e chatEntry
	if typ != websocket.MessageText || json.Unmarshal(b, &e) != nil || e.User != user || e.Text != text {
		t.Fatalf("got %s, want %s: %s", b, user, text)
	}
	return e
}

// chatHistory is GET /rooms/{room}/history, retried while a restarted
// server still loads (503).
func chatHistory(t *testing.T, base, room string) []chatEntry {
	t.Helper()
	var list []chatEntry
	eventually(t, objWait, "history of "+room, func() bool {
		r := do(t, "GET", base+"/rooms/"+room+"/history", nil, nil)
		if r.status == 503 {
			return false
		}
		if r.status != 200 || json.Unmarshal(r.body, &list) != nil {
			t.Fatalf("history of %s: %d %s", room, r.status, r.body)
		}
		return true
	})
	return list
}

func historyTexts(list []chatEntry) string {
	var s []string
	for _, e := range list {
		s = append(s, e.User+":"+e.Text)
	}
	return strings.Join(s, "|")
}

func TestExampleChatRoomBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing, and CI is set: run make deps", chromiumPath)
		}
		t.Skipf("%s is missing (install it with make deps); the chat room's browser test needs it", chromiumPath)
	}
	t.Parallel()
	d := startDev(t, "chat-room")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Headless, chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	// Two tabs of one browser; each keeps its room in sessionStorage,
	// which is per tab. No timeout on the tabs' contexts (it would close
	// them): every wait is a poll with its own timeout.
	tab1, cancel1 := chromedp.NewContext(actx)
	defer cancel1()
	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitText waits until the message list of a tab contains want.
	waitText := func(want string) chromedp.Action[chromedp.Void] {
		wantJS, _ := json.Marshal(want)
		return chromedp.Poll[chromedp.Void]("document.querySelector('#messages').textContent.includes("+string(wantJS)+")",
			chromedp.WithPollingTimeout(objWait), chromedp.WithPollingInterval(50*time.Millisecond))
	}
	joined := chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent === 'in lobby'`,
		chromedp.WithPollingTimeout(objWait), chromedp.WithPollingInterval(50*time.Millisecond))
	join := func(ctx context.Context, name string) {
		t.Helper()
		do(ctx, name+" joins", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), name), chromedp.Click(chromedp.ID("join-btn")), joined)
	}
	join(tab1, "ann")
	// The second tab opens in the browser the first one started.
	tab2, cancel2 := chromedp.NewContext(tab1)
	defer cancel2()
	join(tab2, "bob")

	do(tab1, "ann sends", chromedp.SendKeys(chromedp.ID("text"), "hello from ann"), chromedp.Click(chromedp.ID("send-btn")))
	do(tab2, "bob sees ann's message", waitText("ann:hello from ann"))
	do(tab2, "bob sends", chromedp.SendKeys(chromedp.ID("text"), "hi ann"), chromedp.Click(chromedp.ID("send-btn")))
	do(tab1, "ann sees bob's message", waitText("bob:hi ann"))

	// A reload of bob's tab rejoins the room and shows the history.
	do(tab2, "bob reloads", chromedp.Reload(), joined, waitText("ann:hello from ann"), waitText("bob:hi ann"))
	if got := historyTexts(chatHistory(t, d.url, "lobby")); got != "ann:hello from ann|bob:hi ann" {
		t.Fatalf("history: %s", got)
	}
}

// roomLive asks the admin API whether the room's object is in memory.
func roomLive(t *testing.T, d *dev, room string) bool {
	t.Helper()
	r := do(t, "GET", d.url+"/_strata/api/v1/objects/Room/name:"+room+"?project=chat-room", nil,
		map[string]string{"Authorization": "Bearer " + d.token})
	var info struct {
		Live *bool `json:"live"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &info) != nil || info.Live == nil {
		t.Fatalf("object Room name:%s: %d %s", room, r.status, r.body)
	}
	return *info.Live
}

func TestExampleChatRoomHibernation(t *testing.T) {
	t.Parallel()
	// The smallest idle timeout: the room is evicted a second after its
	// last event while both sockets stay open.
	d := startDevIn(t, copyEdited(t, "chat-room", "idle_timeout: 30s", "idle_timeout: 1s"))
	ann := chatDial(t, d.url, "lobby", "ann")
	bob := chatDial(t, d.url, "lobby", "bob")
	chatSend(t, ann, "one")
	chatRead(t, ann, "ann", "one")
	chatRead(t, bob, "ann", "one")
	eventually(t, objWait, "the room to be evicted (hibernate)", func() bool { return !roomLive(t, d, "lobby") })

	// A message wakes a fresh Room, which knows bob from his socket's
	// attachment and still reaches ann's socket.
	chatSend(t, bob, "two")
	e := chatRead(t, ann, "bob", "two")
	chatRead(t, bob, "bob", "two")
	if e.Seq != 2 {
		t.Fatalf("sequence after hibernation: %d, want 2", e.Seq)
	}
	if got := historyTexts(chatHistory(t, d.url, "lobby")); got != "ann:one|bob:two" {
		t.Fatalf("history after hibernation: %s", got)
	}
}

func TestObjectsCrashChat(t *testing.T) {
	t.Parallel()
	n := newObjNode(t, nil, copyProject(t, "chat-room"))
	ann := chatDial(t, n.url, "lobby", "ann")
	chatSend(t, ann, "before the crash")
	chatRead(t, ann, "ann", "before the crash")

	n.kill()
	// The connection dies with the server: a read fails rather than
	// waiting for a message.
	ctx, cancel := context.WithTimeout(context.Background(), objWait)
	defer cancel()
	if _, b, err := ann.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("read on a socket of a killed server: %q, %v (context: %v)", b, err, ctx.Err())
	}

	n.start()
	if got := historyTexts(chatHistory(t, n.url, "lobby")); got != "ann:before the crash" {
		t.Fatalf("history after the restart: %s", got)
	}
	ann = chatDial(t, n.url, "lobby", "ann")
	chatSend(t, ann, "after the crash")
	if e := chatRead(t, ann, "ann", "after the crash"); e.Seq != 2 {
		t.Fatalf("sequence after the restart: %d, want 2", e.Seq)
	}
}
