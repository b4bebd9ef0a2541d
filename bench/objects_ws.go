package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket parts of the objects scenario: clients are coder/websocket
// connections on loopback, in this process, so a message's send and
// receive times come from one clock.

// objectsBroadcast connects -objects-sockets WebSockets to one Room
// object and, -objects-rounds times, sends one message on the first
// socket that the object broadcasts to all of them; a sample is one
// socket's delivery time (send → that socket read it), so a round gives
// one sample per socket.
func (h *harness) objectsBroadcast(ctx context.Context, base string) latencyResult {
	n, rounds := h.opts.ObjectsSockets, h.opts.ObjectsRounds
	res := latencyResult{
		Scenario: scenarioObjects, Name: fmt.Sprintf("broadcast to %d sockets of one object", n),
		Note:        "send on one socket → each socket read the object's broadcast; one sample per socket and round",
		TargetP99us: micros(targetObjectsBroadcastP99),
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(rounds)*10*time.Second+2*time.Minute)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/room/broadcast"

	h.log.Info("objects broadcast: connecting", "sockets", n)
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	if err := dialAll(ctx, url, conns); err != nil {
		res.Error = err.Error()
		return res
	}

	// sent[r] is round r's send time in unix nanos; got counts the
	// deliveries of the current round.
	sent := make([]atomic.Int64, rounds)
	samples := make([][]time.Duration, n)
	var got atomic.Int64
	roundDone := make(chan struct{}, 1)
	readErr := make(chan error, n)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			for {
				_, b, err := c.Read(ctx)
				now := time.Now().UnixNano()
				if err != nil {
					if ctx.Err() == nil {
						readErr <- fmt.Errorf("socket %d: read: %w", i, err)
					}
					return
				}
				r, err := strconv.Atoi(strings.TrimPrefix(string(b), "b:"))
				if err != nil || r < 0 || r >= rounds {
					readErr <- fmt.Errorf("socket %d: unexpected message %q", i, b)
					return
				}
				samples[i] = append(samples[i], time.Duration(now-sent[r].Load()))
				if got.Add(1) == int64(n) {
					roundDone <- struct{}{}
				}
			}
		})
	}
	h.log.Info("objects broadcast: rounds", "sockets", n, "rounds", rounds)
	var err error
	for r := range rounds {
		got.Store(0)
		sent[r].Store(time.Now().UnixNano())
		if err = conns[0].Write(ctx, websocket.MessageText, []byte("b:"+strconv.Itoa(r))); err != nil {
			err = fmt.Errorf("round %d: send: %w", r, err)
			break
		}
		select {
		case <-roundDone:
		case err = <-readErr:
		case <-time.After(10 * time.Second):
			err = fmt.Errorf("round %d: %d of %d sockets got the broadcast within 10s", r, got.Load(), n)
		}
		if err != nil {
			break
		}
		// A pause between rounds, so each starts from quiet sockets.
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	readers.Wait()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s...)
	}
	s := summarize(all)
	res.Samples = s.n
	res.P50us, res.P99us, res.MeanUS, res.MaxUS = micros(s.p50), micros(s.p99), micros(s.mean), micros(s.maxd)
	met := res.P99us <= res.TargetP99us
	res.Met = &met
	h.log.Info("objects broadcast", "samples", s.n, "p50_us", int(res.P50us), "p99_us", int(res.P99us))
	return res
}

// dialAll opens the WebSockets, a few at a time.
func dialAll(ctx context.Context, url string, conns []*websocket.Conn) error {
	const parallel = 16
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, _, err := websocket.Dial(dctx, url, nil)
				cancel()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("dial socket %d of %s: %w", i, url, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return first
}

// objectsWake measures waking a hibernated object: one socket on a
// Sleeper object (idle_timeout 1s), left alone until the engine evicted
// the object, then a message the object answers on the socket; a sample
// is send → answer read. The answer says whether the object's Go value
// was fresh (it came back for the message); a round where it was not
// evicted is waited for again, so every sample is a wake.
func (h *harness) objectsWake(ctx context.Context, base string) latencyResult {
	rounds := h.opts.ObjectsWakeRounds
	res := latencyResult{
		Scenario: scenarioObjects, Name: "wake a hibernated object by a WebSocket message",
		Note:        fmt.Sprintf("idle_timeout %v; message → the object's answer on the socket, the object evicted before each", objectsSleeperIdle),
		TargetP50us: micros(targetObjectsWakeP50),
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(rounds)*4*objectsSleeperIdle+time.Minute)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/sleeper/wake"
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		res.Error = fmt.Sprintf("dial %s: %v", url, err)
		return res
	}
	defer c.CloseNow()
	ask := func(i int) (time.Duration, bool, error) {
		start := time.Now()
		if err := c.Write(ctx, websocket.MessageText, []byte("p:"+strconv.Itoa(i))); err != nil {
			return 0, false, fmt.Errorf("send: %w", err)
		}
		_, b, err := c.Read(ctx)
		took := time.Since(start)
		if err != nil {
			return 0, false, fmt.Errorf("read: %w", err)
		}
		want := strconv.Itoa(i) + " fresh="
		if !strings.HasPrefix(string(b), want) {
			return 0, false, fmt.Errorf("answer %q, want %q…", b, want)
		}
		return took, strings.HasSuffix(string(b), "=1"), nil
	}
	// The accept was the object's first event; this one is not fresh.
	if _, _, err := ask(0); err != nil {
		res.Error = err.Error()
		return res
	}
	h.log.Info("objects wake", "rounds", rounds, "idle_timeout", objectsSleeperIdle)
	samples := make([]time.Duration, 0, rounds)
	notEvicted := 0
	for i := 1; len(samples) < rounds; i++ {
		select {
		case <-time.After(objectsSleeperIdle + objectsEvictSlack):
		case <-ctx.Done():
			res.Error = fmt.Sprintf("after %d rounds: %v", len(samples), ctx.Err())
			return res
		}
		d, fresh, err := ask(i)
		if err != nil {
			res.Error = fmt.Sprintf("round %d: %v", i, err)
			return res
		}
		if !fresh {
			if notEvicted++; notEvicted > rounds {
				res.Error = errors.New("the object was never evicted between messages").Error()
				return res
			}
			continue
		}
		samples = append(samples, d)
	}
	if notEvicted > 0 {
		res.Note += fmt.Sprintf("; %d rounds found the object still live and were repeated", notEvicted)
	}
	s := summarize(samples)
	res.Samples = s.n
	res.P50us, res.P99us, res.MeanUS, res.MaxUS = micros(s.p50), micros(s.p99), micros(s.mean), micros(s.maxd)
	met := res.P50us <= res.TargetP50us
	res.Met = &met
	h.log.Info("objects wake", "samples", s.n, "p50_us", int(res.P50us), "p99_us", int(res.P99us))
	return res
}
