package sqlite

import (
	"testing"

	"github.com/stratahq/strata/internal/store/storetest"
)

func BenchmarkUsageInsert256(b *testing.B) { storetest.BenchUsageInsert(b, openTemp(b), 256) }
func BenchmarkLogInsert256(b *testing.B)   { storetest.BenchLogInsert(b, openTemp(b), 256) }
