package postgres

import (
	"testing"

	"github.com/stratahq/strata/internal/store/storetest"
)

func BenchmarkUsageInsert256(b *testing.B) { storetest.BenchUsageInsert(b, openFresh(b), 256) }
func BenchmarkLogInsert256(b *testing.B)   { storetest.BenchLogInsert(b, openFresh(b), 256) }
