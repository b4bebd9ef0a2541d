package invoke

import "github.com/stratahq/strata/internal/pool"

func poolErrAtCapacity() error { return pool.ErrAtCapacity }
