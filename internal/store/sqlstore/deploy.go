package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// DeployQueries are the statements on functions, versions and routes.
type DeployQueries interface {
	FunctionGet(ctx context.Context, name string) (*record.Function, error)
	VersionGet(ctx context.Context, function string, number int) (*record.Version, error)
}

// DecodeVersion builds a Version from its stored columns; config is the
// FunctionConfig as JSON. Adapters call it so decoding is written once.
func DecodeVersion(function string, number int, moduleSHA256 string, config []byte, createdAt time.Time) (*record.Version, error) {
	v := &record.Version{Function: function, Number: number, ModuleSHA256: moduleSHA256, CreatedAt: createdAt.UTC()}
	if err := json.Unmarshal(config, &v.Config); err != nil {
		return nil, fmt.Errorf("decode config of %s@%d: %w", function, number, err)
	}
	return v, nil
}

// FunctionGet returns one function.
func (s *Store) FunctionGet(ctx context.Context, name string) (*record.Function, error) {
	f, err := s.d.Read().FunctionGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("function %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get function %s: %w", name, err)
	}
	return f, nil
}

// VersionGet returns one version of a function.
func (s *Store) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	v, err := s.d.Read().VersionGet(ctx, function, number)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("version %s@%d: %w", function, number, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get version %s@%d: %w", function, number, err)
	}
	return v, nil
}
