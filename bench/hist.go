package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// histogram records latencies in log-linear buckets, in the style of an HDR
// histogram: every power of two is split into subBuckets equal slots, so a
// recorded value is kept to within 1/subBuckets (under 1.6%) of itself while
// memory stays constant however many requests a run makes. Each load
// connection owns one and they are merged at the end, so recording takes no
// lock.
type histogram struct {
	counts []uint64
	total  uint64
	sum    float64 // nanoseconds, for the mean
	max    int64
}

const (
	subBucketBits = 6
	subBuckets    = 1 << subBucketBits
	// A value below subBuckets ns has a slot of its own; above that each
	// power of two gets subBuckets slots, up to 2^63 ns.
	histogramSlots = subBuckets + (64-subBucketBits)*subBuckets
)

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, histogramSlots)}
}

// slot maps a value in nanoseconds to its bucket index.
func slot(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBucketBits - 1
	return subBuckets + shift*subBuckets + int(uint64(v)>>shift) - subBuckets
}

// slotValue is the middle of the range of values that map to slot i.
func slotValue(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := (i - subBuckets) / subBuckets
	low := int64(subBuckets+(i-subBuckets)%subBuckets) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[slot(v)]++
	h.total++
	h.sum += float64(v)
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at or below which a fraction q of the recorded
// values fall; zero when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	if rank == h.total {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			// The top slot holds the maximum; never report more than it.
			return time.Duration(min(slotValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// summary is the distribution of a set of latency samples.
type summary struct {
	n                    int
	p50, p99, mean, maxd time.Duration
}

// summarize computes exact quantiles of samples (nearest rank), which the
// in-process scenarios can afford because they keep at most tens of
// thousands of samples. It sorts samples in place.
func summarize(samples []time.Duration) summary {
	if len(samples) == 0 {
		return summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	at := func(q float64) time.Duration {
		rank := int(math.Ceil(q * float64(len(samples))))
		return samples[min(max(rank, 1), len(samples))-1]
	}
	return summary{
		n:    len(samples),
		p50:  at(0.50),
		p99:  at(0.99),
		mean: sum / time.Duration(len(samples)),
		maxd: samples[len(samples)-1],
	}
}
