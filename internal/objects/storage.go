package objects

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Storage errors a guest sees (wrapped with what it tried).
var (
	// ErrTooLarge: a key or value over its limit.
	ErrTooLarge = errors.New("too large")
	// ErrStorageLimit: the write would take the object over its storage
	// limit; nothing of it was applied.
	ErrStorageLimit = errors.New("object storage limit exceeded")
	// ErrNotInObject: a storage, alarm or WebSocket call made outside an
	// event of a durable object.
	ErrNotInObject = errors.New("only a durable object's event may use its storage, alarm and WebSockets")
	// ErrBadRequest: an unknown op or transaction.
	ErrBadRequest = errors.New("bad request")
)

// cval is what the cache knows of one key: its value, or that it is
// absent (del).
type cval struct {
	v   []byte
	del bool
}

// opKind is one change of an event's write log.
type opKind uint8

const (
	opPut opKind = iota
	opDelete
	opDeleteAll
	opAlarmSet
	opAlarmDelete
)

type op struct {
	kind opKind
	key  string
	v    []byte
	at   time.Time
}

// undo restores what one change replaced, so a failed event or a rolled
// back transaction leaves the cache as it was.
type undo struct {
	key      string
	had      bool // the cache had an entry for key
	old      cval
	all      map[string]cval // deleteAll: the whole cache before
	complete bool            // deleteAll: complete before
	bytes    int64
	keys     int64
	alarm    time.Time
	alarmSet bool // an alarm change: restore alarm
}

// savepoint is where an explicit transaction began.
type savepoint struct {
	id         string
	ops, undos int
}

// view is a live object's storage as its events see it: the cache of
// what they read and wrote (committed or on its way), and the running
// event's write log with what it undoes. It is used only by the event
// holding the object's input gate.
type view struct {
	cache    map[string]cval
	complete bool // cache holds every key (after a deleteAll)
	bytes    int64
	keys     int64
	alarm    time.Time // zero: none
	loaded   bool      // bytes, keys and alarm read from the store

	ops   []op
	undos []undo
	txs   []savepoint
	txSeq int
}

func (v *view) reset() {
	*v = view{}
}

// entrySize is what one key and value count against the storage limit.
func entrySize(k string, val []byte) int64 { return int64(len(k) + len(val)) }

// beginEvent starts an event's write log.
func (v *view) beginEvent() {
	v.ops, v.undos, v.txs = v.ops[:0], v.undos[:0], v.txs[:0]
}

// rollbackTo undoes the changes after the first n undo records and drops
// the ops after the first m.
func (v *view) rollbackTo(m, n int) {
	for i := len(v.undos) - 1; i >= n; i-- {
		u := v.undos[i]
		switch {
		case u.all != nil:
			v.cache, v.complete = u.all, u.complete
		case u.alarmSet:
			v.alarm = u.alarm
		case u.had:
			v.cache[u.key] = u.old
		default:
			delete(v.cache, u.key)
		}
		v.bytes, v.keys = u.bytes, u.keys
	}
	v.undos = v.undos[:n]
	v.ops = v.ops[:m]
}

// rollbackEvent undoes the whole running event.
func (v *view) rollbackEvent() {
	v.rollbackTo(0, 0)
	v.txs = v.txs[:0]
}

// write folds the event's log into one store write (nil: nothing
// written), last change of each key winning.
func (v *view) write(l *live) *store.ObjectWrite {
	if len(v.ops) == 0 {
		return nil
	}
	w := &store.ObjectWrite{Key: l.key, Token: l.lease.Token, Name: l.name, Bytes: v.bytes, Keys: v.keys}
	final := map[string]*op{}
	var order []string
	for i := range v.ops {
		o := &v.ops[i]
		switch o.kind {
		case opDeleteAll:
			w.DeleteAll = true
			clear(final)
			order = order[:0]
		case opPut, opDelete:
			if _, seen := final[o.key]; !seen {
				order = append(order, o.key)
			}
			final[o.key] = o
		case opAlarmSet:
			w.SetAlarm, w.DeleteAlarm = o.at, false
		case opAlarmDelete:
			w.SetAlarm, w.DeleteAlarm = time.Time{}, true
		}
	}
	for _, k := range order {
		o := final[k]
		if o.kind == opPut {
			w.Puts = append(w.Puts, record.ObjectEntry{Key: k, Value: o.v})
		} else if !w.DeleteAll {
			w.Deletes = append(w.Deletes, k)
		}
	}
	v.ops, v.undos, v.txs = v.ops[:0], v.undos[:0], v.txs[:0]
	return w
}

// load reads the object's size and alarm once per live incarnation.
func (l *live) load(ctx context.Context) error {
	if l.v.loaded {
		return nil
	}
	info, err := l.e.cfg.Store.ObjectInfo(ctx, l.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("object %s: load: %w", l.key, err)
	default:
		l.v.bytes, l.v.keys, l.v.alarm = info.Bytes, info.Keys, info.AlarmAt
		if l.name == "" {
			l.name = info.Name
		}
	}
	if l.v.cache == nil {
		l.v.cache = map[string]cval{}
	}
	l.v.loaded = true
	return nil
}

// lookup answers keys from the cache, reading the misses from the store
// (and caching them, found or not). Nothing uncommitted can be missing
// from the cache: every write of a live object goes through it.
func (l *live) lookup(ctx context.Context, keys []string) (map[string]cval, error) {
	out := make(map[string]cval, len(keys))
	var miss []string
	for _, k := range keys {
		if c, ok := l.v.cache[k]; ok {
			out[k] = c
		} else if l.v.complete {
			out[k] = cval{del: true}
		} else {
			miss = append(miss, k)
		}
	}
	if len(miss) == 0 {
		return out, nil
	}
	got, err := l.e.cfg.Store.ObjectGet(ctx, l.key, miss)
	if err != nil {
		return nil, fmt.Errorf("object %s: get: %w", l.key, err)
	}
	for _, k := range miss {
		out[k] = cval{del: true}
	}
	for _, en := range got {
		out[en.Key] = cval{v: en.Value}
	}
	for _, k := range miss {
		l.v.cache[k] = out[k]
	}
	return out, nil
}

func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty key: %w", ErrBadRequest)
	}
	if len(k) > wire.ObjectMaxKeyBytes {
		return fmt.Errorf("key of %d bytes is over the %d byte limit: %w", len(k), wire.ObjectMaxKeyBytes, ErrTooLarge)
	}
	return nil
}

func (l *live) get(ctx context.Context, keys []string) (*wire.ObjectResponse, error) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	vals, err := l.lookup(ctx, keys)
	if err != nil {
		return nil, err
	}
	resp := &wire.ObjectResponse{}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, k := range sorted {
		if c := vals[k]; !c.del {
			resp.Entries = append(resp.Entries, wire.ObjectEntry{Key: k, Value: c.v})
		}
	}
	return resp, nil
}

func (l *live) put(ctx context.Context, entries []wire.ObjectEntry) (*wire.ObjectResponse, error) {
	keys := make([]string, len(entries))
	for i, en := range entries {
		if err := checkKey(en.Key); err != nil {
			return nil, err
		}
		if len(en.Value) > wire.ObjectMaxValueBytes {
			return nil, fmt.Errorf("value of key %q is %d bytes, over the %d byte (128 KiB) limit: %w",
				clip(en.Key), len(en.Value), wire.ObjectMaxValueBytes, ErrTooLarge)
		}
		keys[i] = en.Key
	}
	old, err := l.lookup(ctx, keys)
	if err != nil {
		return nil, err
	}
	// Check the limit for the whole call before changing anything.
	bytes, n := l.v.bytes, l.v.keys
	seen := map[string]cval{}
	for _, en := range entries {
		prev, ok := seen[en.Key]
		if !ok {
			prev = old[en.Key]
		}
		if !prev.del {
			bytes -= entrySize(en.Key, prev.v)
			n--
		}
		bytes += entrySize(en.Key, en.Value)
		n++
		seen[en.Key] = cval{v: en.Value}
	}
	if limit := l.storageLimit(); bytes > limit {
		return nil, fmt.Errorf("object %s would hold %d bytes, over its %d byte storage limit (objects.%s.storage_limit in strata.yaml): %w",
			l.key, bytes, limit, l.key.Class, ErrStorageLimit)
	}
	for _, en := range entries {
		prev, had := l.v.cache[en.Key]
		l.v.undos = append(l.v.undos, undo{key: en.Key, had: had, old: prev, bytes: l.v.bytes, keys: l.v.keys})
		cur := old[en.Key]
		if c, ok := l.v.cache[en.Key]; ok {
			cur = c
		}
		if !cur.del {
			l.v.bytes -= entrySize(en.Key, cur.v)
			l.v.keys--
		}
		val := slices.Clone(en.Value)
		if val == nil {
			val = []byte{}
		}
		l.v.cache[en.Key] = cval{v: val}
		l.v.bytes += entrySize(en.Key, val)
		l.v.keys++
		l.v.ops = append(l.v.ops, op{kind: opPut, key: en.Key, v: val})
	}
	return &wire.ObjectResponse{}, nil
}

func (l *live) del(ctx context.Context, keys []string) (*wire.ObjectResponse, error) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	old, err := l.lookup(ctx, keys)
	if err != nil {
		return nil, err
	}
	resp := &wire.ObjectResponse{}
	for _, k := range keys {
		cur := old[k]
		if c, ok := l.v.cache[k]; ok {
			cur = c
		}
		prev, had := l.v.cache[k]
		l.v.undos = append(l.v.undos, undo{key: k, had: had, old: prev, bytes: l.v.bytes, keys: l.v.keys})
		if !cur.del {
			resp.Count++
			l.v.bytes -= entrySize(k, cur.v)
			l.v.keys--
		}
		l.v.cache[k] = cval{del: true}
		l.v.ops = append(l.v.ops, op{kind: opDelete, key: k})
	}
	return resp, nil
}

func (l *live) deleteAll() (*wire.ObjectResponse, error) {
	l.v.undos = append(l.v.undos, undo{all: l.v.cache, complete: l.v.complete, bytes: l.v.bytes, keys: l.v.keys})
	l.v.cache, l.v.complete = map[string]cval{}, true
	l.v.bytes, l.v.keys = 0, 0
	l.v.ops = append(l.v.ops, op{kind: opDeleteAll})
	return &wire.ObjectResponse{}, nil
}

// list reads the committed entries in range, after the object's earlier
// writes are durable, and lays the running event's changes over them.
func (l *live) list(ctx context.Context, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if req.Limit < 0 {
		return nil, fmt.Errorf("limit %d is negative: %w", req.Limit, ErrBadRequest)
	}
	if l.last != nil {
		if err := l.last.wait(ctx); err != nil {
			return nil, fmt.Errorf("object %s: list: an earlier write failed: %w", l.key, err)
		}
	}
	in := func(k string) bool {
		return strings.HasPrefix(k, req.Prefix) && (req.Start == "" || k >= req.Start) && (req.End == "" || k < req.End)
	}
	// The running event's changes (and, after a deleteAll, the fact that
	// nothing committed counts).
	over := map[string]cval{}
	wiped := false
	for _, o := range l.v.ops {
		switch o.kind {
		case opDeleteAll:
			wiped = true
			clear(over)
		case opPut:
			over[o.key] = cval{v: o.v}
		case opDelete:
			over[o.key] = cval{del: true}
		}
	}
	merged := map[string][]byte{}
	if !wiped {
		p := store.ObjectListParams{Key: l.key, Prefix: req.Prefix, Start: req.Start, End: req.End, Reverse: req.Reverse}
		if req.Limit > 0 {
			// Deletions laid over the page may remove some of it.
			p.Limit = req.Limit + len(over)
		}
		got, err := l.e.cfg.Store.ObjectList(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("object %s: list: %w", l.key, err)
		}
		for _, en := range got {
			merged[en.Key] = en.Value
			if _, ok := l.v.cache[en.Key]; !ok {
				l.v.cache[en.Key] = cval{v: en.Value}
			}
		}
	}
	for k, c := range over {
		if !in(k) {
			continue
		}
		if c.del {
			delete(merged, k)
		} else {
			merged[k] = c.v
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if req.Reverse {
		slices.Reverse(keys)
	}
	if req.Limit > 0 && len(keys) > req.Limit {
		keys = keys[:req.Limit]
	}
	resp := &wire.ObjectResponse{Entries: make([]wire.ObjectEntry, len(keys))}
	for i, k := range keys {
		resp.Entries[i] = wire.ObjectEntry{Key: k, Value: merged[k]}
	}
	return resp, nil
}

func (l *live) setAlarm(at time.Time) {
	l.v.undos = append(l.v.undos, undo{alarmSet: true, alarm: l.v.alarm, bytes: l.v.bytes, keys: l.v.keys})
	if at.IsZero() {
		l.v.alarm = time.Time{}
		l.v.ops = append(l.v.ops, op{kind: opAlarmDelete})
		return
	}
	l.v.alarm = at
	l.v.ops = append(l.v.ops, op{kind: opAlarmSet, at: at})
}

func (l *live) txBegin() *wire.ObjectResponse {
	l.v.txSeq++
	id := fmt.Sprintf("tx%d", l.v.txSeq)
	l.v.txs = append(l.v.txs, savepoint{id: id, ops: len(l.v.ops), undos: len(l.v.undos)})
	return &wire.ObjectResponse{TxID: id}
}

// txEnd commits (keeps the changes in the event's log) or rolls back the
// innermost transaction, which must be id.
func (l *live) txEnd(id string, commit bool) (*wire.ObjectResponse, error) {
	n := len(l.v.txs)
	if n == 0 || l.v.txs[n-1].id != id {
		return nil, fmt.Errorf("transaction %q is not the open one: %w", id, ErrBadRequest)
	}
	sp := l.v.txs[n-1]
	l.v.txs = l.v.txs[:n-1]
	if !commit {
		l.v.rollbackTo(sp.ops, sp.undos)
	}
	return &wire.ObjectResponse{}, nil
}

func (l *live) storageLimit() int64 {
	if l.cls.StorageLimitBytes > 0 {
		return l.cls.StorageLimitBytes
	}
	return l.e.cfg.StorageLimit
}
