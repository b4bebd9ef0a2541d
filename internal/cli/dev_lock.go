package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// devLockFile is the file under .strata/ whose lock makes `strata dev`
// one per project. Its content names the holder (pid, and its address
// once it serves) so a refused second dev can say who holds it.
const devLockFile = "dev.lock"

// devHolder is the lock file's content.
type devHolder struct {
	PID    int    `json:"pid"`
	Server string `json:"server,omitempty"`
}

// devLock is held for as long as a `strata dev` runs. The kernel lock
// (flock on Unix) is released when the process exits however it exits, so
// a SIGKILLed dev does not block the next one; no stale-pid guessing.
type devLock struct {
	f      *os.File
	holder devHolder
}

// errDevRunning refuses a second `strata dev` in a project.
func errDevRunning(h devHolder) error {
	who := "another process"
	if h.PID > 0 {
		who = fmt.Sprintf("pid %d", h.PID)
	}
	where := "still starting"
	if h.Server != "" {
		where = "serving " + h.Server
	}
	return exitError{code: ExitFailure, err: fmt.Errorf("strata dev is already running for this project (%s, %s); stop it first, or use it: commands run in this project reach it without flags", who, where)}
}

// lockDev takes the project's dev lock in stateDir (.strata) or refuses.
func lockDev(stateDir string) (*devLock, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, devLockFile)
	// The file is never removed: a process that opened it to lock must
	// lock the same file as everyone else, not one unlinked under it.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open .strata/%s: %w", devLockFile, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock .strata/%s: %w", devLockFile, err)
	}
	if !ok {
		var h devHolder
		if b, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(b, &h) // a holder mid-write reads as unknown
		}
		f.Close()
		return nil, errDevRunning(h)
	}
	l := &devLock{f: f, holder: devHolder{PID: os.Getpid()}}
	if err := l.write(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// serving records the address the holder serves on, for a refused dev's
// message.
func (l *devLock) serving(url string) {
	l.holder.Server = url
	_ = l.write()
}

func (l *devLock) write() error {
	b, _ := json.Marshal(l.holder)
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write .strata/%s: %w", devLockFile, err)
	}
	if _, err := l.f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("write .strata/%s: %w", devLockFile, err)
	}
	return nil
}

// release drops the lock (closing the file releases it).
func (l *devLock) release() {
	_ = l.f.Close()
}

// removeDevState removes .strata/dev.json if this process (pid) wrote it.
func removeDevState(projectDir string, pid int) {
	st, err := readDevState(projectDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return
	}
	if st != nil && st.PID == pid {
		_ = os.Remove(filepath.Join(projectDir, ".strata", devStateFile))
	}
}
