package batch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Calls that queue while a batch runs share the next ones (at most Max
// each), every caller gets its own result, and a failing input fails
// alone, not with its batch.
func TestBatcherSharesAndIsolates(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	release := make(chan struct{})
	bad := errors.New("bad input")
	b := &Batcher[int, int]{Max: 256}
	b.Run = func(ctx context.Context, ins []int) ([]int, []error) {
		mu.Lock()
		sizes = append(sizes, len(ins))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // hold the first batch while the others queue
		}
		return AllOrEach(ctx, ins, func(_ context.Context, ins []int) ([]int, error) {
			out := make([]int, len(ins))
			for i, in := range ins {
				if in%25 == 3 {
					return nil, bad
				}
				out[i] = in * 2
			}
			return out, nil
		})
	}
	var wg sync.WaitGroup
	one := func(i int) {
		defer wg.Done()
		out, err := b.Do(context.Background(), i)
		if i%25 == 3 {
			if !errors.Is(err, bad) {
				t.Errorf("input %d: error %v, want the bad-input error", i, err)
			}
			return
		}
		if err != nil || out != 2*i {
			t.Errorf("input %d: got %d, %v", i, out, err)
		}
	}
	wg.Add(1)
	go one(0)
	for {
		mu.Lock()
		started := len(sizes) == 1
		mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 500; i++ {
		wg.Add(1)
		go one(i)
	}
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == 499 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if want := []int{1, 256, 243}; len(sizes) != 3 || sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Fatalf("batch sizes %v, want %v", sizes, want)
	}
}
