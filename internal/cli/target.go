package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/client"
)

// devState is what `strata dev` leaves in <project>/.strata/dev.json so
// other commands in the project reach it with no flags.
type devState struct {
	Server string `json:"server"`
	Token  string `json:"token"`
	PID    int    `json:"pid,omitempty"`
}

const devStateFile = "dev.json"

// target holds the --server/--token flags of commands that talk to a server.
type target struct {
	server string
	token  string
}

func (t *target) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.server, "server", "", "Strata server URL (default: $STRATA_SERVER, else the dev server of the project here)")
	cmd.Flags().StringVar(&t.token, "token", "", "admin token (default: $STRATA_TOKEN, else the dev server's)")
}

// client resolves the server and token: flags, then environment, then the
// dev server of the project containing the working directory.
func (t *target) client() (*client.Client, error) {
	server, token := t.server, t.token
	if server == "" {
		server = os.Getenv("STRATA_SERVER")
	}
	if token == "" {
		token = os.Getenv("STRATA_TOKEN")
	}
	if server == "" || token == "" {
		if st, err := findDevState(); err == nil {
			if server == "" {
				server = st.Server
			}
			if token == "" && server == st.Server {
				token = st.Token
			}
		}
	}
	if server == "" {
		// Nothing to reach is "unreachable" (exit 3), like a refused
		// connection: scripts tell "no server" from a failed operation.
		return nil, exitError{ExitUnreachable, errors.New("no server: run `strata dev` in this project, or pass --server HOST:PORT (or set STRATA_SERVER)")}
	}
	base, err := serverURL(server)
	if err != nil {
		return nil, err
	}
	return client.New(base, token), nil
}

// serverURL turns what --server or STRATA_SERVER says into a base URL:
// host:port (what `strata server --addr` takes) means http://host:port;
// a URL must be http or https with a host.
func serverURL(s string) (string, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("--server %q: want HOST:PORT, http://HOST:PORT or https://HOST:PORT", raw)
	}
	// A path is kept: a server may sit behind a proxy under a prefix.
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), nil
}

// findProjectDir walks up from the working directory to the folder holding
// strata.yaml.
func findProjectDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "strata.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no strata.yaml in this directory or any parent")
		}
		dir = parent
	}
}

func findDevState() (*devState, error) {
	dir, err := findProjectDir()
	if err != nil {
		return nil, err
	}
	return readDevState(dir)
}

func readDevState(projectDir string) (*devState, error) {
	b, err := os.ReadFile(filepath.Join(projectDir, ".strata", devStateFile))
	if err != nil {
		return nil, err
	}
	var st devState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", devStateFile, err)
	}
	return &st, nil
}

func writeDevState(projectDir string, st devState) error {
	dir := filepath.Join(projectDir, ".strata")
	if err := os.MkdirAll(dir, 0o700); err != nil { // .strata holds the dev store and token
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	// The token is a credential: only the owner reads it.
	return os.WriteFile(filepath.Join(dir, devStateFile), b, 0o600)
}
