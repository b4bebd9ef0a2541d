package postgres

import (
	"testing"

	"github.com/stratahq/strata/internal/store/storetest"
)

func BenchmarkUsageInsert256(b *testing.B) { storetest.BenchUsageInsert(b, openFresh(b), 256) }
func BenchmarkLogInsert256(b *testing.B)   { storetest.BenchLogInsert(b, openFresh(b), 256) }

func BenchmarkMessageSend10(b *testing.B) { storetest.BenchMessageSend(b, openFresh(b), 10) }
func BenchmarkMessageReceiveAck10(b *testing.B) {
	storetest.BenchMessageReceiveAck(b, openFresh(b), 10)
}
func BenchmarkMessagePipeline10(b *testing.B) {
	storetest.BenchMessagePipeline(b, openFresh(b), 10, false)
}
func BenchmarkMessagePipeline10Parallel(b *testing.B) {
	storetest.BenchMessagePipeline(b, openFresh(b), 10, true)
}

func BenchmarkKVGet(b *testing.B)         { storetest.BenchKVGet(b, openFresh(b), false) }
func BenchmarkKVGetParallel(b *testing.B) { storetest.BenchKVGet(b, openFresh(b), true) }
func BenchmarkKVPut(b *testing.B)         { storetest.BenchKVPut(b, openFresh(b), false) }
func BenchmarkKVPutParallel(b *testing.B) { storetest.BenchKVPut(b, openFresh(b), true) }

func BenchmarkFlowCommitBatch32(b *testing.B) { storetest.BenchFlowCommitBatch(b, openFresh(b), 32) }

func BenchmarkSpanInsert512(b *testing.B) { storetest.BenchSpanInsert(b, openFresh(b), 512) }
func BenchmarkTraceList(b *testing.B)     { storetest.BenchTraceList(b, openFresh(b)) }

func BenchmarkObjectCommit(b *testing.B) { storetest.BenchObjectCommit(b, openFresh(b), 64) }
