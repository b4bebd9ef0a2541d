package sqlite

import (
	"testing"

	"github.com/stratahq/strata/internal/store/storetest"
)

func BenchmarkUsageInsert256(b *testing.B) { storetest.BenchUsageInsert(b, openTemp(b), 256) }
func BenchmarkLogInsert256(b *testing.B)   { storetest.BenchLogInsert(b, openTemp(b), 256) }

func BenchmarkMessageSend10(b *testing.B)       { storetest.BenchMessageSend(b, openTemp(b), 10) }
func BenchmarkMessageReceiveAck10(b *testing.B) { storetest.BenchMessageReceiveAck(b, openTemp(b), 10) }
func BenchmarkMessagePipeline10(b *testing.B) {
	storetest.BenchMessagePipeline(b, openTemp(b), 10, false)
}
func BenchmarkMessagePipeline10Parallel(b *testing.B) {
	storetest.BenchMessagePipeline(b, openTemp(b), 10, true)
}

func BenchmarkKVGet(b *testing.B)         { storetest.BenchKVGet(b, openTemp(b), false) }
func BenchmarkKVGetParallel(b *testing.B) { storetest.BenchKVGet(b, openTemp(b), true) }
func BenchmarkKVPut(b *testing.B)         { storetest.BenchKVPut(b, openTemp(b), false) }
func BenchmarkKVPutParallel(b *testing.B) { storetest.BenchKVPut(b, openTemp(b), true) }

func BenchmarkFlowCommitBatch32(b *testing.B) { storetest.BenchFlowCommitBatch(b, openTemp(b), 32) }

func BenchmarkSpanInsert512(b *testing.B) { storetest.BenchSpanInsert(b, openTemp(b), 512) }
func BenchmarkTraceList(b *testing.B)     { storetest.BenchTraceList(b, openTemp(b)) }

func BenchmarkObjectCommit(b *testing.B) { storetest.BenchObjectCommit(b, openTemp(b), 64) }
