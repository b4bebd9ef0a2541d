package process_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
)

// A sandbox's CPU: the memory's share as at Lambda (one vCPU per 1,769
// MB), at least one whole CPU, at most the node's; the weight under
// contention keeps Lambda's proportion.
func TestCPULimits(t *testing.T) {
	for _, c := range []struct {
		mem, cpus int
		quota     int64
		shares    int
	}{
		{128, 2, 100_000, 74},
		{1769, 2, 100_000, 1024},
		{3538, 8, 200_000, 2048},
		{10240, 2, 200_000, 5927},
		{1, 1, 100_000, 2},
	} {
		q, s := process.CPULimits(c.mem, c.cpus)
		require.Equal(t, c.quota, q, "%d MB on %d CPUs", c.mem, c.cpus)
		require.Equal(t, c.shares, s, "%d MB on %d CPUs", c.mem, c.cpus)
	}
}

// Every process of a sandbox, the ones its handler starts too, is in the
// sandbox's own cpu group, whose quota is the function's CPU: a handler
// that spins several threads gets at most that, not the node. (The node
// here may make cgroups, as root; without a cpu hierarchy the test
// cannot check anything and fails, rather than pass on nothing.)
func TestSandboxCPUGroup(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err != nil {
		t.Fatalf("no cgroup v1 cpu hierarchy on this node: %v", err)
	}
	r := setup(t)
	// A provided bootstrap in sh: three busy loops in the background,
	// then it serves invocations with curl (in /usr, which the sandbox
	// maps).
	boot := `#!/bin/sh
for i in 1 2 3; do (while :; do :; done) & done
api=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation
while :; do
  curl -sS -D /tmp/h -o /tmp/ev $api/next || exit 1
  id=$(tr -d '\r' </tmp/h | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -X POST -d '"spun"' $api/$id/response >/dev/null || exit 1
done
`
	m, err := compile(t, r, record.RuntimeProvided, "", map[string]string{"bootstrap*": boot})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 10*time.Second)
	require.NoError(t, iv.err)
	require.Equal(t, `"spun"`, string(iv.resp.Body))

	var group string
	for _, d := range inst.Cgroups() {
		if strings.HasPrefix(d, "/sys/fs/cgroup/cpu/") {
			group = d
		}
	}
	require.NotEmpty(t, group, "the sandbox's groups: %v", inst.Cgroups())
	quota, _ := process.CPULimits(128, 0)
	b, err := os.ReadFile(filepath.Join(group, "cpu.cfs_quota_us"))
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(quota, 10), strings.TrimSpace(string(b)))
	// bwrap, sh, the three loops and curl's successor: all members.
	b, err = os.ReadFile(filepath.Join(group, "tasks"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(strings.Fields(string(b))), 5, "the group's tasks: %q", b)
	// Once the sandbox is gone, so is its group.
	require.NoError(t, inst.Close(t.Context()))
	require.Eventually(t, func() bool { _, err := os.Stat(group); return os.IsNotExist(err) }, 10*time.Second, 20*time.Millisecond)
}
