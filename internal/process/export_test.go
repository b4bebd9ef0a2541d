package process

// Dir is the runtime's directory (code and bootstraps), for tests that
// prove a sandbox cannot see it.
func (r *Runtime) Dir() string { return r.cfg.Dir }

// CodeDir is where a module's code is unpacked on the host.
func (m *Module) CodeDir() string { return m.code }

// RunDir is the host directory of an instance's Runtime API socket.
func (i *Instance) RunDir() string { return i.dir }

// Exited is closed once the instance's process is gone.
func (i *Instance) Exited() <-chan struct{} { return i.exited }

// UseForwarder makes the runtime's provided sandboxes run the Runtime API
// forwarder, as a node that may not enter a sandbox's network namespace
// does.
func (r *Runtime) UseForwarder() { r.forwardOnly.Store(true) }

// ForwardOnly reports whether the runtime fell back to the forwarder.
func (r *Runtime) ForwardOnly() bool { return r.forwardOnly.Load() }

// Cgroups are the instance's own groups (pids, memory, cpu), where the
// node may make them.
func (i *Instance) Cgroups() []string { return i.cgroups }

// CPULimits is cpuLimits.
var CPULimits = cpuLimits

// BindingCalls is how many binding calls the instance is serving.
func (i *Instance) BindingCalls() int { return len(i.sem) }
