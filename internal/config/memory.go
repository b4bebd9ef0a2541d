package config

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// The instance memory budget and the Go runtime's memory limit derived from
// it. Without a limit the heap of a node that ran memory-hungry guests grew
// to several times its live size and stayed resident (Found 6 of issue 9:
// 3.5 GB resident for 530 MB live).

// Sources of the machine's memory, most specific first. Variables so tests
// can point them at fixtures.
var (
	cgroupV2Max = "/sys/fs/cgroup/memory.max"
	cgroupV1Max = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	procMeminfo = "/proc/meminfo"
)

// MachineMemoryMB returns the memory this process may use: the lower of
// the machine's total (/proc/meminfo) and its cgroup's limit, in MB; 0
// when neither can be read (not Linux).
func MachineMemoryMB() int64 {
	total := meminfoTotal(procMeminfo)
	for _, f := range []string{cgroupV2Max, cgroupV1Max} {
		if lim := cgroupLimit(f); lim > 0 && (total == 0 || lim < total) {
			total = lim
		}
	}
	return total >> 20
}

// meminfoTotal reads MemTotal in bytes from a /proc/meminfo file.
func meminfoTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit reads a cgroup memory limit in bytes; 0 for "max", absent or
// unreadable. cgroup v1 spells "no limit" as a huge number, which the
// comparison with the machine's total then ignores.
func cgroupLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// InstanceMemoryBudgetMB is the budget the invoker enforces: MemoryBudgetMB,
// or when 0 three quarters of MachineMemoryMB; 0 means no budget (set to
// -1, or the machine's memory is unknown).
func (c Config) InstanceMemoryBudgetMB() int64 {
	switch {
	case c.MemoryBudgetMB > 0:
		return c.MemoryBudgetMB
	case c.MemoryBudgetMB < 0:
		return 0
	}
	return MachineMemoryMB() * 3 / 4
}

// GoMemoryLimit is the soft memory limit for the Go runtime
// (debug.SetMemoryLimit) in bytes: the instance budget (guest memories up
// to 64 MiB live on the Go heap; larger ones are mapped outside it, see
// internal/wasm) plus room for the server's own heap, a quarter of the
// budget and at least 256 MB, but not above the machine's memory. The
// collector then works harder, and returns memory sooner, before the node
// runs short. ok is false when the user set GOMEMLIMIT (the Go runtime
// applied theirs) or there is no budget.
func (c Config) GoMemoryLimit() (limit int64, ok bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	budget := c.InstanceMemoryBudgetMB()
	if budget <= 0 {
		return 0, false
	}
	mb := budget + max(budget/4, 256)
	if machine := MachineMemoryMB(); machine > 0 && mb > machine {
		mb = max(machine, budget)
	}
	return mb << 20, true
}
