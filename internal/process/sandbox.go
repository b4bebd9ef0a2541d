package process

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// Paths inside every sandbox.
const (
	taskRoot   = "/var/task"    // the function's code, read-only (LAMBDA_TASK_ROOT)
	bootRoot   = "/opt/strata"  // Strata's bootstraps, read-only
	runRoot    = "/run/strata"  // this process's Runtime API socket, nothing else
	socketName = "runtime.sock" // in runRoot
	// providedAPI is the address a "provided" bootstrap reads from
	// AWS_LAMBDA_RUNTIME_API: the node's listener in the sandbox's
	// network namespace (netns.go), or the forwarder's, is there on the
	// sandbox's own loopback.
	providedAPI = "127.0.0.1:9001"
)

// sandboxUID is who the function runs as inside its user namespace (an
// unprivileged id, as Lambda's sbx_user1051; it owns nothing).
const sandboxUID = "993"

// bwrapArgs is the sandbox of one process: new user, PID, mount, IPC, UTS,
// network (and cgroup, where the kernel allows) namespaces; a root made of
// the host's /usr read-only (the interpreters and their libraries), the
// code and bootstraps read-only, a private /tmp with a size cap, and the
// directory of this process's own Runtime API socket. Nothing else of the
// host is there: no /etc, no /home, no data directory, no other function's
// code, no network but its own loopback. The command runs under prlimit,
// which sets the rlimits from inside the namespaces (so the process count
// is the sandbox's own).
//
// direct is a provided sandbox whose Runtime API listener the node opens
// inside it (netns.go): bwrap reports its child on fd 3 and waits on fd 4
// before running the bootstrap, and no forwarder is mapped.
func (m *Module) bwrapArgs(runDir string, direct bool) []string {
	r := m.r
	a := []string{
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
		"--uid", sandboxUID, "--gid", sandboxUID, "--hostname", "strata",
		"--die-with-parent", "--new-session", "--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr",
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		if t, err := os.Readlink("/" + l); err == nil {
			a = append(a, "--symlink", t, "/"+l)
		} else if fi, err := os.Stat("/" + l); err == nil && fi.IsDir() {
			a = append(a, "--ro-bind", "/"+l, "/"+l)
		}
	}
	a = append(a,
		"--proc", "/proc", "--dev", "/dev",
		"--size", strconv.Itoa(r.cfg.TmpMB<<20), "--perms", "1777", "--tmpfs", "/tmp",
		"--ro-bind", m.code, taskRoot,
		"--ro-bind", r.boot, bootRoot,
		"--ro-bind", runDir, runRoot,
	)
	if m.spec.Runtime == record.RuntimePython && r.pyHome != "" && !strings.HasPrefix(r.pyHome, "/usr/") {
		a = append(a, "--ro-bind", r.pyHome, r.pyHome)
	}
	if m.spec.Runtime == record.RuntimeNode && !strings.HasPrefix(r.cfg.Node, "/usr/") {
		d := filepath.Dir(filepath.Dir(r.cfg.Node)) // …/bin/node → its prefix
		a = append(a, "--ro-bind", d, d)
	}
	if direct {
		a = append(a, "--info-fd", "3", "--block-fd", "4")
	} else if m.spec.Runtime == record.RuntimeProvided {
		a = append(a, "--ro-bind", r.forwarder, forwarderPath)
	}
	a = append(a, "--chdir", taskRoot, "--")
	return append(a, m.command(direct)...)
}

// command is what runs inside the sandbox: prlimit setting the limits,
// then the runtime.
func (m *Module) command(direct bool) []string {
	mem := int64(m.spec.MemoryMB) << 20
	var cmd []string
	as := mem + 256<<20
	switch m.spec.Runtime {
	case record.RuntimeNode:
		// V8 reserves address space far beyond what it uses: the heap is
		// capped by its own flag, the address space loosely.
		as = mem + 2<<30
		cmd = []string{m.r.cfg.Node, "--max-old-space-size=" + strconv.Itoa(max(m.spec.MemoryMB*3/4, 16)), bootRoot + "/bootstrap.js"}
	case record.RuntimePython:
		// -S: no site module (its start-up is a third of the
		// interpreter's); dependencies come with the code, in /var/task,
		// as a Lambda deployment package carries them.
		cmd = []string{m.r.python, "-u", "-B", "-S", bootRoot + "/bootstrap.py"}
	default:
		// Go programs (the forwarder, an aws-lambda-go bootstrap) reserve
		// address space for the heap's arenas and page summaries up front,
		// more than a gigabyte for some builds: the address space is only
		// a backstop here, the memory cgroup (where there is one) the
		// limit.
		as = mem + 4<<30
		cmd = []string{forwarderPath, taskRoot + "/bootstrap"}
		if direct {
			cmd = cmd[1:]
		}
	}
	if _, err := os.Stat("/usr/bin/prlimit"); err != nil {
		return cmd
	}
	return append([]string{"/usr/bin/prlimit",
		"--nproc=" + strconv.Itoa(m.r.cfg.MaxProcs),
		"--fsize=" + strconv.Itoa(m.r.cfg.FileMB<<20),
		"--as=" + strconv.FormatInt(as, 10),
		"--core=0", "--"}, cmd...)
}

// env is the process's whole environment: the manifest's variables, then
// Lambda's standard ones (which win: the bootstrap depends on them).
func (m *Module) env() []string {
	fn := m.spec.Function
	std := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"LANG":                            "C.UTF-8",
		"TZ":                              ":UTC",
		"HOME":                            "/tmp",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              bootRoot,
		"_HANDLER":                        m.spec.Handler,
		"AWS_LAMBDA_FUNCTION_NAME":        fn,
		"AWS_LAMBDA_FUNCTION_VERSION":     strconv.Itoa(m.spec.Version),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(m.spec.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/strata/" + fn,
		"AWS_LAMBDA_LOG_STREAM_NAME":      fn,
		"AWS_REGION":                      lambdaRegion,
		"AWS_DEFAULT_REGION":              lambdaRegion,
		"AWS_EXECUTION_ENV":               "Strata_" + m.spec.Runtime,
		"AWS_LAMBDA_RUNTIME_API":          providedAPI,
		"STRATA_RUNTIME_SOCKET":           runRoot + "/" + socketName,
		// Where the bindings are (docs/process.md): the Runtime API's
		// own endpoint, the loopback address for a provided bootstrap
		// (as AWS_LAMBDA_RUNTIME_API), the socket for Node.js and Python.
		"STRATA_BINDINGS_API": bindingsAPI(m.spec.Runtime),
		// require('strata') finds the client library among the
		// bootstraps (a function's own node_modules come first).
		"NODE_PATH":               bootRoot,
		"PYTHONDONTWRITEBYTECODE": "1",
		"PYTHONUNBUFFERED":        "1",
	}
	out := make([]string, 0, len(m.spec.Env)+len(std))
	for k, v := range m.spec.Env {
		if _, ok := std[k]; !ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range std {
		out = append(out, k+"="+v)
	}
	return out
}

// bindingsAPI is the STRATA_BINDINGS_API of a runtime: for provided, the
// host:port on the sandbox's loopback where the Runtime API listens (as
// AWS_LAMBDA_RUNTIME_API); else "unix:" and the socket.
func bindingsAPI(runtime string) string {
	if runtime == record.RuntimeProvided {
		return providedAPI
	}
	return "unix:" + runRoot + "/" + socketName
}

// lambdaRegion is the region events and ARNs name (docs/lambda.md).
const lambdaRegion = "strata"

// cgroups places each process in cgroup v1 pids, memory and cpu groups of
// its own when this node may create them (a real cap on processes even
// where rlimits do not bind, as for root, on the memory of the whole
// sandbox, and on its CPU). Where it may not, rlimits are what limits a
// process (and nothing limits its CPU but the invocation's timeout).
type cgroups struct {
	pids, memory, cpu string // parent directories; "" when unavailable
	removing          sync.WaitGroup
}

// cpuPeriod is the CFS period of a sandbox's cpu group (the kernel's
// default, 100 ms).
const cpuPeriod = 100_000

// mbPerCPU is Lambda's ratio of memory to CPU: a function gets one vCPU
// per 1,769 MB of memory.
const mbPerCPU = 1769

// cpuLimits are a sandbox's CFS quota (µs of CPU per cpuPeriod) and its
// weight under contention: its memory's share of CPUs as at Lambda, but
// never less than one whole CPU (below 1,769 MB Lambda gives a fraction
// of one, which would make an interpreter's cold start several times
// slower), nor more than the node has. The weight keeps Lambda's
// proportion: a 3,538 MB function gets twice a 1,769 MB one's share of a
// contended CPU.
func cpuLimits(memoryMB, cpus int) (quota int64, shares int) {
	n := max(float64(memoryMB)/mbPerCPU, 1)
	n = min(n, float64(max(cpus, 1)))
	return int64(n * cpuPeriod), max(1024*memoryMB/mbPerCPU, 2)
}

func newCgroups(log *slog.Logger) *cgroups {
	c := &cgroups{}
	own := map[string]string{}
	if f, err := os.Open("/proc/self/cgroup"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			parts := strings.SplitN(s.Text(), ":", 3)
			if len(parts) == 3 {
				for _, ctl := range strings.Split(parts[1], ",") {
					own[ctl] = parts[2]
				}
			}
		}
		f.Close()
	}
	try := func(ctl string) string {
		base, ok := own[ctl]
		if !ok {
			return ""
		}
		dir := filepath.Join("/sys/fs/cgroup", ctl, base, fmt.Sprintf("strata-process-%d", os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ""
		}
		return dir
	}
	c.pids, c.memory, c.cpu = try("pids"), try("memory"), try("cpu")
	log.Debug("process sandbox cgroups", "pids", c.pids, "memory", c.memory, "cpu", c.cpu)
	return c
}

// create makes the groups of one process and returns their cgroup.procs
// files (the process joins them before it starts the sandbox).
func (c *cgroups) create(id string, maxProcs, memoryMB int) (procs []string, dirs []string) {
	memBytes := int64(memoryMB) << 20
	if c.pids != "" {
		d := filepath.Join(c.pids, id)
		if os.Mkdir(d, 0o755) == nil && os.WriteFile(filepath.Join(d, "pids.max"), []byte(strconv.Itoa(maxProcs+8)), 0) == nil {
			procs, dirs = append(procs, filepath.Join(d, "cgroup.procs")), append(dirs, d)
		}
	}
	if c.memory != "" {
		d := filepath.Join(c.memory, id)
		if os.Mkdir(d, 0o755) == nil && os.WriteFile(filepath.Join(d, "memory.limit_in_bytes"), []byte(strconv.FormatInt(memBytes, 10)), 0) == nil {
			procs, dirs = append(procs, filepath.Join(d, "cgroup.procs")), append(dirs, d)
		}
	}
	if c.cpu != "" {
		d := filepath.Join(c.cpu, id)
		quota, shares := cpuLimits(memoryMB, runtime.NumCPU())
		if os.Mkdir(d, 0o755) == nil &&
			os.WriteFile(filepath.Join(d, "cpu.cfs_period_us"), []byte(strconv.Itoa(cpuPeriod)), 0) == nil &&
			os.WriteFile(filepath.Join(d, "cpu.cfs_quota_us"), []byte(strconv.FormatInt(quota, 10)), 0) == nil &&
			os.WriteFile(filepath.Join(d, "cpu.shares"), []byte(strconv.Itoa(shares)), 0) == nil {
			procs, dirs = append(procs, filepath.Join(d, "cgroup.procs")), append(dirs, d)
		} else {
			_ = os.Remove(d)
		}
	}
	return procs, dirs
}

// close removes the runtime's parent groups (empty once its instances
// are closed).
func (c *cgroups) close() {
	c.removing.Wait()
	for _, parent := range []string{c.pids, c.memory, c.cpu} {
		if parent == "" {
			continue
		}
		// Groups of instances never closed (a server stopped before its
		// pools drained) would keep the parent.
		left, _ := filepath.Glob(filepath.Join(parent, "p*"))
		removeCgroups(left)
	}
	removeCgroups([]string{c.pids, c.memory, c.cpu})
}

// removeLater removes an instance's groups in the background; close waits
// for it.
func (c *cgroups) removeLater(dirs []string) {
	c.removing.Add(1)
	go func() {
		defer c.removing.Done()
		removeCgroups(dirs)
	}()
}

// remove deletes a process's groups once its processes are gone (a
// group with members cannot be removed; the kill may take a moment).
func removeCgroups(dirs []string) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for i := 0; i < 50; i++ {
			if err := os.Remove(d); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
