package objects

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeHost answers op-6 host calls the way the platform does for one
// object, in memory: storage with explicit transactions (writes buffered
// until commit), the alarm, accepted sockets, and canned answers to
// stubs. It records every request, decoded strictly, so tests can check
// what crossed the boundary.
type fakeHost struct {
	t       *testing.T
	reqs    []wire.ObjectRequest
	data    map[string][]byte
	txs     map[string]map[string][]byte // buffered writes; a nil value deletes
	nextTx  int
	alarmMS int64
	sockets []wire.SocketInfo
	fail    map[string]string // op → the host's error message
}

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, data: map[string][]byte{}, txs: map[string]map[string][]byte{}, fail: map[string]string{}}
	prev := hostcall.Binding
	t.Cleanup(func() { hostcall.Binding = prev })
	hostcall.Binding = func(op hostcall.Op, req []byte) (int32, []byte) {
		require.Equal(t, hostcall.Object, op)
		rp, err := wire.DecodeObjectRequest(req)
		require.NoError(t, err, "request %x", req)
		r := *rp
		h.reqs = append(h.reqs, r)
		if msg, ok := h.fail[r.Op]; ok {
			return 1, []byte(msg)
		}
		resp, err := h.handle(&r)
		if err != nil {
			return 1, []byte(err.Error())
		}
		if resp == nil {
			return 0, nil // an op that answers nothing may leave no text
		}
		return 0, wire.AppendObjectResponse(nil, resp)
	}
	return h
}

// ops returns the ops of the recorded requests.
func (h *fakeHost) ops() []string {
	var out []string
	for _, r := range h.reqs {
		out = append(out, r.Op)
	}
	return out
}

func (h *fakeHost) last() wire.ObjectRequest {
	require.NotEmpty(h.t, h.reqs)
	return h.reqs[len(h.reqs)-1]
}

func (h *fakeHost) read(tx, key string) ([]byte, bool) {
	if tx != "" {
		if v, ok := h.txs[tx][key]; ok {
			return v, v != nil
		}
	}
	v, ok := h.data[key]
	return v, ok
}

func (h *fakeHost) write(tx, key string, v []byte) {
	if tx != "" {
		h.txs[tx][key] = v
		return
	}
	if v == nil {
		delete(h.data, key)
		return
	}
	h.data[key] = v
}

func (h *fakeHost) handle(r *wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if r.TxID != "" {
		if _, ok := h.txs[r.TxID]; !ok {
			return nil, errors.New("unknown transaction " + r.TxID)
		}
	}
	switch r.Op {
	case wire.ObjectOpGet:
		resp := &wire.ObjectResponse{}
		for _, k := range r.Keys {
			if v, ok := h.read(r.TxID, k); ok {
				resp.Entries = append(resp.Entries, wire.ObjectEntry{Key: k, Value: v})
			}
		}
		return resp, nil
	case wire.ObjectOpPut:
		for _, e := range r.Entries {
			h.write(r.TxID, e.Key, append([]byte{}, e.Value...))
		}
		return &wire.ObjectResponse{}, nil
	case wire.ObjectOpDelete:
		n := 0
		for _, k := range r.Keys {
			if _, ok := h.read(r.TxID, k); ok {
				n++
			}
			h.write(r.TxID, k, nil)
		}
		return &wire.ObjectResponse{Count: n}, nil
	case wire.ObjectOpList:
		keys := map[string]bool{}
		for k := range h.data {
			keys[k] = true
		}
		for k := range h.txs[r.TxID] {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			_, live := h.read(r.TxID, k)
			if live && strings.HasPrefix(k, r.Prefix) && k >= r.Start && (r.End == "" || k < r.End) {
				sorted = append(sorted, k)
			}
		}
		slices.Sort(sorted)
		if r.Reverse {
			slices.Reverse(sorted)
		}
		if r.Limit > 0 && len(sorted) > r.Limit {
			sorted = sorted[:r.Limit]
		}
		resp := &wire.ObjectResponse{}
		for _, k := range sorted {
			v, _ := h.read(r.TxID, k)
			resp.Entries = append(resp.Entries, wire.ObjectEntry{Key: k, Value: v})
		}
		return resp, nil
	case wire.ObjectOpDeleteAll:
		clear(h.data)
		return nil, nil
	case wire.ObjectOpTxBegin:
		h.nextTx++
		id := "tx" + strconv.Itoa(h.nextTx)
		h.txs[id] = map[string][]byte{}
		return &wire.ObjectResponse{TxID: id}, nil
	case wire.ObjectOpTxCommit:
		for k, v := range h.txs[r.TxID] {
			h.write("", k, v)
		}
		delete(h.txs, r.TxID)
		return nil, nil
	case wire.ObjectOpTxRollback:
		delete(h.txs, r.TxID)
		return nil, nil
	case wire.ObjectOpAlarmGet:
		return &wire.ObjectResponse{AtMS: h.alarmMS}, nil
	case wire.ObjectOpAlarmSet:
		h.alarmMS = r.AtMS
		return nil, nil
	case wire.ObjectOpAlarmDelete:
		h.alarmMS = 0
		return nil, nil
	case wire.ObjectOpWSAccept:
		info := wire.SocketInfo{ID: "s" + strconv.Itoa(len(h.sockets)+1), Tags: r.Tags}
		h.sockets = append(h.sockets, info)
		return &wire.ObjectResponse{Socket: info.ID}, nil
	case wire.ObjectOpWSList:
		resp := &wire.ObjectResponse{}
		for _, s := range h.sockets {
			if r.Tag == "" || slices.Contains(s.Tags, r.Tag) {
				resp.Sockets = append(resp.Sockets, s)
			}
		}
		return resp, nil
	case wire.ObjectOpWSAttach:
		for i := range h.sockets {
			if h.sockets[i].ID == r.Sockets[0] {
				h.sockets[i].Attachment = r.Data
			}
		}
		return nil, nil
	case wire.ObjectOpWSSend, wire.ObjectOpWSClose, wire.ObjectOpWSAutoResponse:
		return nil, nil
	case wire.ObjectOpIDFromName:
		return &wire.ObjectResponse{ID: "id-of-" + r.Name}, nil
	case wire.ObjectOpNewID:
		return &wire.ObjectResponse{ID: "unique"}, nil
	case wire.ObjectOpStubFetch:
		body := "object got " + r.Request.Method + " " + r.Request.Path + " " + string(r.Request.Body)
		return &wire.ObjectResponse{Response: &wire.StubResponse{Status: 201,
			Headers: []wire.Header{{Name: "x-answer", Values: []string{"yes"}}}, Body: []byte(body)}}, nil
	}
	return nil, errors.New("fake host: unknown op " + r.Op)
}
