package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The machine's memory is the lower of /proc/meminfo's total and the
// cgroup limit; "max" (v2) and v1's huge "no limit" number are ignored.
func TestMachineMemoryMB(t *testing.T) {
	dir := t.TempDir()
	meminfo := writeFile(t, dir, "meminfo", "MemTotal:       8388608 kB\nMemFree:  1 kB\n")
	tests := []struct {
		name   string
		v2, v1 string
		want   int64
	}{
		{"no cgroup", "", "", 8192},
		{"v2 max", "max\n", "", 8192},
		{"v2 limit", "1073741824\n", "", 1024},
		{"v1 unlimited", "", "9223372036854771712\n", 8192},
		{"v1 limit", "", "536870912\n", 512},
	}
	oldV2, oldV1, oldMem := cgroupV2Max, cgroupV1Max, procMeminfo
	t.Cleanup(func() { cgroupV2Max, cgroupV1Max, procMeminfo = oldV2, oldV1, oldMem })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			procMeminfo = meminfo
			cgroupV2Max, cgroupV1Max = filepath.Join(dir, "absent"), filepath.Join(dir, "absent")
			if tc.v2 != "" {
				cgroupV2Max = writeFile(t, t.TempDir(), "memory.max", tc.v2)
			}
			if tc.v1 != "" {
				cgroupV1Max = writeFile(t, t.TempDir(), "limit", tc.v1)
			}
			if got := MachineMemoryMB(); got != tc.want {
				t.Fatalf("MachineMemoryMB = %d, want %d", got, tc.want)
			}
			c := Default()
			if got := c.InstanceMemoryBudgetMB(); got != tc.want*3/4 {
				t.Fatalf("derived budget = %d, want %d", got, tc.want*3/4)
			}
		})
	}
}

func TestGoMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	oldV2, oldV1, oldMem := cgroupV2Max, cgroupV1Max, procMeminfo
	t.Cleanup(func() { cgroupV2Max, cgroupV1Max, procMeminfo = oldV2, oldV1, oldMem })
	dir := t.TempDir()
	procMeminfo = writeFile(t, dir, "meminfo", "MemTotal: 8388608 kB\n") // 8 GiB
	cgroupV2Max, cgroupV1Max = filepath.Join(dir, "absent"), filepath.Join(dir, "absent")
	c := Default()
	c.MemoryBudgetMB = 2048
	if lim, ok := c.GoMemoryLimit(); !ok || lim != (2048+512)<<20 {
		t.Fatalf("GoMemoryLimit = %d %v, want the budget and a quarter", lim, ok)
	}
	c.MemoryBudgetMB = 512
	if lim, ok := c.GoMemoryLimit(); !ok || lim != (512+256)<<20 {
		t.Fatalf("small budget: GoMemoryLimit = %d %v, want the budget and 256 MB", lim, ok)
	}
	c.MemoryBudgetMB = 8000
	if lim, ok := c.GoMemoryLimit(); !ok || lim != 8192<<20 {
		t.Fatalf("budget near the machine's memory: GoMemoryLimit = %d %v, want the machine's 8 GiB", lim, ok)
	}
	c.MemoryBudgetMB = 0
	if lim, ok := c.GoMemoryLimit(); !ok || lim != (6144+1536)<<20 {
		t.Fatalf("derived budget: GoMemoryLimit = %d %v", lim, ok)
	}
	c.MemoryBudgetMB = -1
	if _, ok := c.GoMemoryLimit(); ok {
		t.Fatal("no budget, yet a limit")
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	c.MemoryBudgetMB = 2048
	if _, ok := c.GoMemoryLimit(); ok {
		t.Fatal("the user's GOMEMLIMIT must win")
	}
}

func TestValidateCapacity(t *testing.T) {
	c := Default()
	c.MaxConcurrency, c.ProjectConcurrency, c.MemoryBudgetMB = 10, 11, -2
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "project concurrency 11: must be between 1 and max concurrency (10)") ||
		!strings.Contains(err.Error(), "memory budget -2 MB") {
		t.Fatalf("err = %v", err)
	}
	c.ProjectConcurrency, c.MemoryBudgetMB = -1, -1
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
