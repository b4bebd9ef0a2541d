package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// applyEvents replaces project's queues, topics and schedules inside the
// deploy transaction (which holds the deploy lock). ev has passed
// EventsApplyParams.Validate, so dead-letter queues and subscriptions name
// queues of this deploy.
func applyEvents(ctx context.Context, tx pgx.Tx, project string, ev *store.EventsApplyParams) error {
	names := make([]string, 0, len(ev.Queues))
	for _, q := range ev.Queues {
		if q.Consumer != "" {
			if err := ownFunction(ctx, tx, project, q.Consumer); err != nil {
				return fmt.Errorf("queue %s: consumer: %w", q.Name, err)
			}
		}
		// The upsert's WHERE leaves another project's queue untouched,
		// which is how a name owned elsewhere shows up: no row changed.
		tag, err := tx.Exec(ctx, `INSERT INTO queues (name, project, kind, visibility_timeout_ns, max_receives,
			dead_letter, fifo, consumer, batch_size, retry_base_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, visibility_timeout_ns = excluded.visibility_timeout_ns,
				max_receives = excluded.max_receives, dead_letter = excluded.dead_letter, fifo = excluded.fifo,
				consumer = excluded.consumer, batch_size = excluded.batch_size, retry_base_ns = excluded.retry_base_ns
			WHERE queues.project = excluded.project`,
			q.Name, project, q.Kind, int64(q.VisibilityTimeout), q.MaxReceives, q.DeadLetter, q.FIFO, q.Consumer,
			q.BatchSize, int64(q.RetryBase))
		if err != nil {
			return fmt.Errorf("put queue %s: %w", q.Name, err)
		}
		if tag.RowsAffected() == 0 {
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
		tag, err := tx.Exec(ctx, `INSERT INTO topics (name, project) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE topics.project = excluded.project`, t.Name, project)
		if err != nil {
			return fmt.Errorf("put topic %s: %w", t.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("topic %s belongs to project %s: %w", t.Name, ownerOf(ctx, tx, "topics", t.Name), store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM topic_subscriptions WHERE topic = $1`, t.Name); err != nil {
			return fmt.Errorf("clear subscriptions of topic %s: %w", t.Name, err)
		}
		if len(t.Queues) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO topic_subscriptions (topic, queue) SELECT $1, unnest($2::text[])`,
				t.Name, t.Queues); err != nil {
				return fmt.Errorf("subscribe queues to topic %s: %w", t.Name, err)
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
		next := sc.NextFire.Truncate(time.Microsecond)
		var owner, spec, tz string
		err := tx.QueryRow(ctx, `SELECT project, spec, timezone FROM schedules WHERE name = $1`, sc.Name).Scan(&owner, &spec, &tz)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			_, err = tx.Exec(ctx, `INSERT INTO schedules (name, project, function, spec, timezone, next_fire) VALUES ($1, $2, $3, $4, $5, $6)`,
				sc.Name, project, sc.Function, sc.Spec, sc.Timezone, next)
		case err != nil:
		case owner != project:
			return fmt.Errorf("schedule %s belongs to project %s: %w", sc.Name, owner, store.ErrConflict)
		case spec == sc.Spec && tz == sc.Timezone:
			// Unchanged timing keeps its next fire, so a redeploy
			// neither skips nor repeats one.
			_, err = tx.Exec(ctx, `UPDATE schedules SET function = $1 WHERE name = $2`, sc.Function, sc.Name)
		default:
			_, err = tx.Exec(ctx, `UPDATE schedules SET function = $1, spec = $2, timezone = $3, next_fire = $4 WHERE name = $5`,
				sc.Function, sc.Spec, sc.Timezone, next, sc.Name)
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
func ownFunction(ctx context.Context, tx pgx.Tx, project, function string) error {
	var owner string
	err := tx.QueryRow(ctx, `SELECT project FROM functions WHERE name = $1`, function).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("function %s: %w", function, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("look up function %s: %w", function, err)
	case owner != project:
		return fmt.Errorf("function %s belongs to project %s: %w", function, owner, store.ErrNotFound)
	}
	return nil
}

// ownerOf names the project owning a row of table, for error messages.
func ownerOf(ctx context.Context, tx pgx.Tx, table, name string) string {
	var owner string
	if err := tx.QueryRow(ctx, `SELECT project FROM `+table+` WHERE name = $1`, name).Scan(&owner); err != nil {
		return "?"
	}
	return owner
}

// deleteUnlisted deletes project's rows of table whose name is not in keep.
func deleteUnlisted(ctx context.Context, tx pgx.Tx, table, project string, keep []string) error {
	if keep == nil {
		keep = []string{}
	}
	_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE project = $1 AND NOT (name = ANY($2::text[]))`, project, keep)
	return err
}

const queueSelect = `SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer,
	batch_size, retry_base_ns FROM queues`

func scanQueue(row pgx.Row) (record.QueueConfig, error) {
	var q record.QueueConfig
	var vis, retry int64
	err := row.Scan(&q.Name, &q.Project, &q.Kind, &vis, &q.MaxReceives, &q.DeadLetter, &q.FIFO, &q.Consumer, &q.BatchSize, &retry)
	q.VisibilityTimeout, q.RetryBase = time.Duration(vis), time.Duration(retry)
	return q, err
}

// QueueGet returns one queue's configuration.
func (s *Store) QueueGet(ctx context.Context, name string) (*record.QueueConfig, error) {
	q, err := scanQueue(s.pool.QueryRow(ctx, queueSelect+` WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("queue %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get queue %s: %w", name, err)
	}
	return &q, nil
}

// QueueList returns every queue, sorted by name in byte order.
func (s *Store) QueueList(ctx context.Context) ([]record.QueueConfig, error) {
	rows, err := s.pool.Query(ctx, queueSelect+` ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.QueueConfig, error) { return scanQueue(row) })
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return nilIfEmpty(out), nil
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

func (s *Store) topics(ctx context.Context, only string) ([]record.TopicConfig, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.name, t.project, s.queue FROM topics t
		LEFT JOIN topic_subscriptions s ON s.topic = t.name
		WHERE $1 = '' OR t.name = $1 ORDER BY t.name COLLATE "C", s.queue COLLATE "C"`, only)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.TopicConfig
	for rows.Next() {
		var name, project string
		var queue *string
		if err := rows.Scan(&name, &project, &queue); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, record.TopicConfig{Name: name, Project: project})
		}
		if queue != nil {
			t := &out[len(out)-1]
			t.Queues = append(t.Queues, *queue)
		}
	}
	return out, rows.Err()
}

// ScheduleList returns every schedule, sorted by name.
func (s *Store) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, project, function, spec, timezone, next_fire FROM schedules ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Schedule, error) {
		var sc record.Schedule
		err := row.Scan(&sc.Name, &sc.Project, &sc.Function, &sc.Spec, &sc.Timezone, &sc.NextFire)
		sc.NextFire = utc(sc.NextFire)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return nilIfEmpty(out), nil
}
