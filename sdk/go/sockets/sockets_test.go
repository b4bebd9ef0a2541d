package sockets

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		body    string
		want    Event
		ok      bool
	}{
		{"plain request", nil, "x", Event{}, false},
		{"connect", map[string]string{wire.SocketEventHeader: "$connect", wire.SocketConnHeader: "c1"}, "",
			Event{Type: Connect, Connection: "c1"}, true},
		{"text message", map[string]string{wire.SocketEventHeader: "$default", wire.SocketConnHeader: "c1", wire.SocketTextHeader: "1"}, "hi",
			Event{Type: Default, Connection: "c1", Data: []byte("hi"), Text: true}, true},
		{"binary message on a route key", map[string]string{wire.SocketEventHeader: "chat", wire.SocketConnHeader: "c2"}, "\x00",
			Event{Type: "chat", Connection: "c2", Data: []byte{0}}, true},
		{"disconnect", map[string]string{wire.SocketEventHeader: "$disconnect", wire.SocketConnHeader: "c1"}, "",
			Event{Type: Disconnect, Connection: "c1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			got, ok := FromRequest(r)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSendAndClose(t *testing.T) {
	var got []wire.ObjectRequest
	prev := hostcall.Binding
	t.Cleanup(func() { hostcall.Binding = prev })
	hostcall.Binding = func(op hostcall.Op, req []byte) (int32, []byte) {
		require.Equal(t, hostcall.Object, op)
		r, err := wire.DecodeObjectRequest(req)
		require.NoError(t, err)
		got = append(got, *r)
		if r.Connection == "gone" {
			return 1, []byte("connection gone is closed")
		}
		return 0, nil
	}
	ctx := context.Background()
	require.NoError(t, Send(ctx, "c1", TextMessage("echo:hi")))
	require.NoError(t, Send(ctx, "c1", Message{Data: []byte{1}}))
	require.NoError(t, Close(ctx, "c1", 4000, "bye"))
	require.Equal(t, []wire.ObjectRequest{
		{Op: wire.ObjectOpConnSend, Connection: "c1", Data: []byte("echo:hi"), Text: true},
		{Op: wire.ObjectOpConnSend, Connection: "c1", Data: []byte{1}},
		{Op: wire.ObjectOpConnClose, Connection: "c1", Code: 4000, Reason: "bye"},
	}, got)
	require.EqualError(t, Send(ctx, "gone", TextMessage("x")), "sockets: send on connection gone: connection gone is closed")
}
