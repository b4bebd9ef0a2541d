package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// applyEvents replaces project's queues, topics and schedules inside the
// deploy transaction. ev has passed EventsApplyParams.Validate, so dead-letter
// queues and subscriptions name queues of this deploy.
func applyEvents(ctx context.Context, tx *sql.Tx, project string, ev *store.EventsApplyParams) error {
	names := make([]string, 0, len(ev.Queues))
	for _, q := range ev.Queues {
		if q.Consumer != "" {
			if err := ownFunction(ctx, tx, project, q.Consumer); err != nil {
				return fmt.Errorf("queue %s: consumer: %w", q.Name, err)
			}
		}
		// The upsert's WHERE leaves another project's queue untouched,
		// which is how a name owned elsewhere shows up: no row changed.
		res, err := tx.ExecContext(ctx, `INSERT INTO queues (name, project, kind, visibility_timeout_ns, max_receives,
			dead_letter, fifo, consumer, batch_size, retry_base_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, visibility_timeout_ns = excluded.visibility_timeout_ns,
				max_receives = excluded.max_receives, dead_letter = excluded.dead_letter, fifo = excluded.fifo,
				consumer = excluded.consumer, batch_size = excluded.batch_size, retry_base_ns = excluded.retry_base_ns
			WHERE queues.project = excluded.project`,
			q.Name, project, q.Kind, int64(q.VisibilityTimeout), q.MaxReceives, q.DeadLetter, q.FIFO, q.Consumer,
			q.BatchSize, int64(q.RetryBase))
		if err != nil {
			return fmt.Errorf("put queue %s: %w", q.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("put queue %s: %w", q.Name, err)
		} else if n == 0 {
			return fmt.Errorf("queue %s belongs to project %s: %w", q.Name, ownerOf(ctx, tx, "queues", q.Name), store.ErrConflict)
		}
		names = append(names, q.Name)
	}
	// Queues no longer listed go, with their messages, dedup entries and
	// subscriptions (ON DELETE CASCADE).
	if err := deleteUnlisted(ctx, tx, "queues", project, names); err != nil {
		return fmt.Errorf("remove queues: %w", err)
	}

	names = names[:0]
	for _, t := range ev.Topics {
		res, err := tx.ExecContext(ctx, `INSERT INTO topics (name, project) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE topics.project = excluded.project`, t.Name, project)
		if err != nil {
			return fmt.Errorf("put topic %s: %w", t.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("put topic %s: %w", t.Name, err)
		} else if n == 0 {
			return fmt.Errorf("topic %s belongs to project %s: %w", t.Name, ownerOf(ctx, tx, "topics", t.Name), store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topic_subscriptions WHERE topic = ?`, t.Name); err != nil {
			return fmt.Errorf("clear subscriptions of topic %s: %w", t.Name, err)
		}
		for _, q := range t.Queues {
			if _, err := tx.ExecContext(ctx, `INSERT INTO topic_subscriptions (topic, queue) VALUES (?, ?)`, t.Name, q); err != nil {
				return fmt.Errorf("subscribe queue %s to topic %s: %w", q, t.Name, err)
			}
		}
		names = append(names, t.Name)
	}
	if err := deleteUnlisted(ctx, tx, "topics", project, names); err != nil {
		return fmt.Errorf("remove topics: %w", err)
	}

	names = names[:0]
	for _, sc := range ev.Schedules {
		if err := ownFunction(ctx, tx, project, sc.Function); err != nil {
			return fmt.Errorf("schedule %s: %w", sc.Name, err)
		}
		var owner, spec, tz string
		err := tx.QueryRowContext(ctx, `SELECT project, spec, timezone FROM schedules WHERE name = ?`, sc.Name).Scan(&owner, &spec, &tz)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO schedules (name, project, function, spec, timezone, next_fire) VALUES (?, ?, ?, ?, ?, ?)`,
				sc.Name, project, sc.Function, sc.Spec, sc.Timezone, micros(sc.NextFire))
		case err != nil:
		case owner != project:
			return fmt.Errorf("schedule %s belongs to project %s: %w", sc.Name, owner, store.ErrConflict)
		case spec == sc.Spec && tz == sc.Timezone:
			// Unchanged timing keeps its next fire, so a redeploy
			// neither skips nor repeats one.
			_, err = tx.ExecContext(ctx, `UPDATE schedules SET function = ? WHERE name = ?`, sc.Function, sc.Name)
		default:
			_, err = tx.ExecContext(ctx, `UPDATE schedules SET function = ?, spec = ?, timezone = ?, next_fire = ? WHERE name = ?`,
				sc.Function, sc.Spec, sc.Timezone, micros(sc.NextFire), sc.Name)
		}
		if err != nil {
			return fmt.Errorf("put schedule %s: %w", sc.Name, err)
		}
		names = append(names, sc.Name)
	}
	if err := deleteUnlisted(ctx, tx, "schedules", project, names); err != nil {
		return fmt.Errorf("remove schedules: %w", err)
	}
	return nil
}

// ownFunction checks that function exists and belongs to project; anything
// else is ErrNotFound, as the contract has it for event targets.
func ownFunction(ctx context.Context, tx *sql.Tx, project, function string) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT project FROM functions WHERE name = ?`, function).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("function %s: %w", function, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("look up function %s: %w", function, err)
	case owner != project:
		return fmt.Errorf("function %s belongs to project %s: %w", function, owner, store.ErrNotFound)
	}
	return nil
}

// ownerOf names the project owning a row of table, for error messages.
func ownerOf(ctx context.Context, tx *sql.Tx, table, name string) string {
	var owner string
	if err := tx.QueryRowContext(ctx, `SELECT project FROM `+table+` WHERE name = ?`, name).Scan(&owner); err != nil {
		return "?"
	}
	return owner
}

// deleteUnlisted deletes project's rows of table whose name is not in keep.
func deleteUnlisted(ctx context.Context, tx *sql.Tx, table, project string, keep []string) error {
	list, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE project = ? AND name NOT IN (SELECT value FROM json_each(?))`,
		project, string(list))
	return err
}

// QueueGet returns one queue's configuration.
func (s *Store) QueueGet(ctx context.Context, name string) (*record.QueueConfig, error) {
	q, err := scanQueue(s.r.QueryRowContext(ctx, queueSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queue %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get queue %s: %w", name, err)
	}
	return q, nil
}

// QueueList returns every queue, sorted by name.
func (s *Store) QueueList(ctx context.Context) ([]record.QueueConfig, error) {
	rows, err := s.r.QueryContext(ctx, queueSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	defer rows.Close()
	var out []record.QueueConfig
	for rows.Next() {
		q, err := scanQueue(rows)
		if err != nil {
			return nil, fmt.Errorf("list queues: %w", err)
		}
		out = append(out, *q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return out, nil
}

const queueSelect = `SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer,
	batch_size, retry_base_ns FROM queues`

func scanQueue(sc scanner) (*record.QueueConfig, error) {
	var q record.QueueConfig
	var vis, retry int64
	if err := sc.Scan(&q.Name, &q.Project, &q.Kind, &vis, &q.MaxReceives, &q.DeadLetter, &q.FIFO, &q.Consumer,
		&q.BatchSize, &retry); err != nil {
		return nil, err
	}
	q.VisibilityTimeout, q.RetryBase = time.Duration(vis), time.Duration(retry)
	return &q, nil
}

// TopicGet returns a topic and its subscribed queues (sorted).
func (s *Store) TopicGet(ctx context.Context, name string) (*record.TopicConfig, error) {
	ts, err := s.topics(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get topic %s: %w", name, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("topic %s: %w", name, store.ErrNotFound)
	}
	return &ts[0], nil
}

// TopicList returns every topic, sorted by name.
func (s *Store) TopicList(ctx context.Context) ([]record.TopicConfig, error) {
	ts, err := s.topics(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return ts, nil
}

// topics lists topics with their subscriptions, or only the one named.
func (s *Store) topics(ctx context.Context, only string) ([]record.TopicConfig, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT t.name, t.project, s.queue FROM topics t
		LEFT JOIN topic_subscriptions s ON s.topic = t.name
		WHERE ? = '' OR t.name = ? ORDER BY t.name, s.queue`, only, only)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.TopicConfig
	for rows.Next() {
		var name, project string
		var queue sql.NullString
		if err := rows.Scan(&name, &project, &queue); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, record.TopicConfig{Name: name, Project: project})
		}
		if queue.Valid {
			t := &out[len(out)-1]
			t.Queues = append(t.Queues, queue.String)
		}
	}
	return out, rows.Err()
}

// ScheduleList returns every schedule, sorted by name.
func (s *Store) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, project, function, spec, timezone, next_fire FROM schedules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []record.Schedule
	for rows.Next() {
		var sc record.Schedule
		var next int64
		if err := rows.Scan(&sc.Name, &sc.Project, &sc.Function, &sc.Spec, &sc.Timezone, &next); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		sc.NextFire = fromMicros(next)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}
