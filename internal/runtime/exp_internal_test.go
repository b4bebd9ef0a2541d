package runtime

import (
	"context"
	"os"
	"testing"
)

func BenchmarkExpRaw(b *testing.B) {
	wasm, _ := os.ReadFile("/tmp/exp.wasm")
	rt, _ := New(context.Background(), Config{})
	m, err := rt.Compile(context.Background(), wasm, ModuleSpec{Name: "exp"})
	if err != nil {
		b.Fatal(err)
	}
	inst, err := m.Instantiate(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range []string{"strata_handle", "alloc", "allocgosched"} {
		b.Run(fn, func(b *testing.B) {
			f := inst.mod.ExportedFunction(fn)
			st := []uint64{20}
			for b.Loop() {
				st[0] = 20
				if err := f.CallWithStack(context.Background(), st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
