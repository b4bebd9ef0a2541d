package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

var stateMachinesTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"StateMachinesCreateGetUpdateDelete", testStateMachinesLifecycle},
	{"StateMachinesPerProject", testStateMachinesPerProject},
	{"StateMachinesListPages", testStateMachinesList},
}

func testStateMachinesLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now()
	m := record.StateMachine{Project: "p", Name: "m", Type: record.StateMachineExpress, Definition: `{"StartAt":"A"}`, RoleArn: "arn:aws:iam::1:role/r"}
	got, err := s.StateMachineCreate(ctx, m)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Revision)
	requireRecent(t, got.CreatedAt, before)
	require.Equal(t, got.CreatedAt, got.UpdatedAt)
	m.Revision, m.CreatedAt, m.UpdatedAt = got.Revision, got.CreatedAt, got.UpdatedAt
	require.Equal(t, m, *got)

	_, err = s.StateMachineCreate(ctx, m)
	require.ErrorIs(t, err, store.ErrConflict, "a name is taken once per project")

	read, err := s.StateMachineGet(ctx, "p", "m")
	require.NoError(t, err)
	require.Equal(t, m, *read)

	up, err := s.StateMachineUpdate(ctx, "p", "m", `{"StartAt":"B"}`, "")
	require.NoError(t, err)
	require.Equal(t, int64(2), up.Revision)
	require.Equal(t, `{"StartAt":"B"}`, up.Definition)
	require.Equal(t, "", up.RoleArn)
	require.Equal(t, m.CreatedAt, up.CreatedAt, "an update keeps the creation time")
	require.False(t, up.UpdatedAt.Before(m.UpdatedAt))

	_, err = s.StateMachineUpdate(ctx, "p", "nope", "{}", "")
	var nf *store.NotFoundError
	require.ErrorAs(t, err, &nf)

	ok, err := s.StateMachineDelete(ctx, "p", "m")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.StateMachineDelete(ctx, "p", "m")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.StateMachineGet(ctx, "p", "m")
	require.True(t, errors.Is(err, store.ErrNotFound), "got %v", err)
}

func testStateMachinesPerProject(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, p := range []string{"p", "q"} {
		_, err := s.StateMachineCreate(ctx, record.StateMachine{Project: p, Name: "same", Type: record.StateMachineStandard, Definition: p})
		require.NoError(t, err, "the same name in two projects")
	}
	got, err := s.StateMachineGet(ctx, "q", "same")
	require.NoError(t, err)
	require.Equal(t, "q", got.Definition)
	_, err = s.StateMachineUpdate(ctx, "q", "same", "q2", "")
	require.NoError(t, err)
	got, err = s.StateMachineGet(ctx, "p", "same")
	require.NoError(t, err)
	require.Equal(t, "p", got.Definition, "an update of q's machine leaves p's alone")
	ok, err := s.StateMachineDelete(ctx, "p", "same")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.StateMachineGet(ctx, "q", "same")
	require.NoError(t, err, "a delete of p's machine leaves q's")
}

func testStateMachinesList(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Upper case sorts before lower case in byte order, whatever the
	// database's collation.
	names := []string{"B", "a", "a-1", "b", "c"}
	for i, n := range []string{"c", "a", "B", "b", "a-1"} {
		_, err := s.StateMachineCreate(ctx, record.StateMachine{Project: "p", Name: n, Type: record.StateMachineExpress, Definition: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	_, err := s.StateMachineCreate(ctx, record.StateMachine{Project: "other", Name: "x", Type: record.StateMachineExpress})
	require.NoError(t, err)

	all, err := s.StateMachinesList(ctx, store.StateMachinesListParams{Project: "p"})
	require.NoError(t, err)
	var got []string
	for _, m := range all {
		got = append(got, m.Name)
	}
	require.Equal(t, names, got)

	got = nil
	after := ""
	for {
		page, err := s.StateMachinesList(ctx, store.StateMachinesListParams{Project: "p", After: after, Limit: 2})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2)
		for _, m := range page {
			got = append(got, m.Name)
		}
		after = page[len(page)-1].Name
	}
	require.Equal(t, names, got, "pages of 2 cover every machine once")

	none, err := s.StateMachinesList(ctx, store.StateMachinesListParams{Project: "empty"})
	require.NoError(t, err)
	require.Nil(t, none)
}
