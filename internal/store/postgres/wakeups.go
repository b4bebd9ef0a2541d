package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake-ups between nodes. A node that sends a queue message, signals an
// execution or deploys tells the others through PostgreSQL's
// LISTEN/NOTIFY, so their consumer, run or registry acts at once instead
// of at its next poll; polling stays the safety net (a notification is
// lost when no session listens, or when a listener reconnects).
// Channels are database-wide, so the channel is named after the schema:
// nodes of another schema in the same database do not hear this one's.

// wakeChannel is the channel of the store's schema (an identifier: it
// needs no quoting).
func (s *Store) wakeChannel() string {
	sum := sha256.Sum256([]byte(s.schema))
	return "strata_wake_" + hex.EncodeToString(sum[:8])
}

// Publish sends payload (at most 8,000 bytes) to every node listening on
// the store's schema, this one included.
func (s *Store) Publish(ctx context.Context, payload string) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.wakeChannel(), payload)
	return err
}

// Subscribe calls fn with the payload of every notification on the
// store's schema until ctx ends. It holds one connection (not the pool's)
// and, when that fails, reconnects after a pause (notifications sent
// meanwhile are lost: the pollers catch up). ready, when not nil, is
// closed once the first LISTEN is in place.
func (s *Store) Subscribe(ctx context.Context, fn func(payload string), ready chan<- struct{}) {
	pause := 50 * time.Millisecond
	for ctx.Err() == nil {
		if err := s.listen(ctx, fn, &ready); err != nil && ctx.Err() == nil {
			select {
			case <-time.After(pause):
			case <-ctx.Done():
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 50 * time.Millisecond
	}
}

func (s *Store) listen(ctx context.Context, fn func(string), ready *chan<- struct{}) error {
	// A connection of its own, outside the pool: the pool is small (four
	// connections on two cores by default) and every one of them serves
	// requests.
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+s.wakeChannel()); err != nil {
		return err
	}
	if *ready != nil {
		close(*ready)
		*ready = nil
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
