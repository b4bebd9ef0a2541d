package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// Definitions of the state machine tests: Pass states only, so running
// them needs no function.
const (
	greetDef  = `{"StartAt":"Greet","States":{"Greet":{"Type":"Pass","Result":{"hello":"world"},"ResultPath":"$.greeting","End":true}}}`
	greet2Def = `{"StartAt":"Greet","States":{"Greet":{"Type":"Pass","Result":"v2","End":true}}}`
	idleDef   = `{"StartAt":"Idle","States":{"Idle":{"Type":"Pass","End":true}}}`
)

type machinesAPI struct {
	api *api.API
	srv *httptest.Server
	st  store.Store
	sha string
}

// newMachinesAPI is the admin API over a real SQLite store with a real
// Step Functions handler as its runner, the tokens of the objects tests,
// and one uploaded module the deploys use.
func newMachinesAPI(t *testing.T) *machinesAPI {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, tk := range []record.Token{
		{Hash: api.HashToken(testToken), Name: "admin", Scope: record.ScopeAdmin},
		{Hash: api.HashToken(shopRead), Name: "shop-ro", Project: "shop", Scope: record.ScopeRead},
		{Hash: api.HashToken(shopDeploy), Name: "shop-ci", Project: "shop", Scope: record.ScopeDeploy},
		{Hash: api.HashToken(blogDeploy), Name: "blog-ci", Project: "blog", Scope: record.ScopeDeploy},
	} {
		require.NoError(t, st.TokenPut(ctx, tk))
	}
	mod := []byte("\x00asm\x01\x00\x00\x00")
	sum := sha256.Sum256(mod)
	sha := hex.EncodeToString(sum[:])
	require.NoError(t, st.BlobPut(ctx, sha, mod))
	runner := sfn.New(sfn.Config{Store: st})
	t.Cleanup(runner.Stop)
	a := api.New(api.Config{Store: st, Invoker: prepInvoker{}, StateMachines: runner})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &machinesAPI{api: a, srv: srv, st: st, sha: sha}
}

func (m *machinesAPI) spec(project string, machines ...apitype.StateMachineSpec) apitype.Spec {
	return apitype.Spec{Project: project, StateMachines: machines, Functions: []apitype.FunctionSpec{{
		Name: project + "-api", ModuleSHA256: m.sha,
		Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 128, TimeoutMS: 10000, MaxConcurrency: 64},
	}}}
}

func machineNames(t *testing.T, st store.Store, project string) map[string]record.StateMachine {
	t.Helper()
	list, err := st.StateMachinesList(context.Background(), store.StateMachinesListParams{Project: project})
	require.NoError(t, err)
	out := map[string]record.StateMachine{}
	for _, m := range list {
		out[m.Name] = m
	}
	return out
}

// TestDeployStateMachines: a deploy creates the spec's machines, a later
// one updates a changed definition (a new revision), replaces a machine
// whose type changed and deletes the machines no longer listed; another
// project's machine of the same name is untouched throughout.
func TestDeployStateMachines(t *testing.T) {
	ctx := context.Background()
	m := newMachinesAPI(t)
	res, err := m.api.Deploy(ctx, m.spec("blog", apitype.StateMachineSpec{Name: "greet", Type: record.StateMachineExpress, Definition: idleDef}), false)
	require.NoError(t, err)
	require.True(t, res.Applied)

	res, err = m.api.Deploy(ctx, m.spec("shop",
		apitype.StateMachineSpec{Name: "greet", Type: record.StateMachineExpress, Definition: greetDef},
		apitype.StateMachineSpec{Name: "nightly", Type: record.StateMachineStandard, Definition: idleDef},
		apitype.StateMachineSpec{Name: "report", Type: record.StateMachineStandard, Definition: idleDef},
	), false)
	require.NoError(t, err)
	require.Contains(t, res.PlanText, "+ state machine greet (EXPRESS)\n+ state machine nightly (STANDARD)\n+ state machine report (STANDARD)\n")
	require.Contains(t, res.PlanText, "; state machines: 3 to add, 0 to change, 0 to remove")
	got := machineNames(t, m.st, "shop")
	require.Len(t, got, 3)
	require.Equal(t, greetDef, got["greet"].Definition)
	require.Equal(t, record.StateMachineExpress, got["greet"].Type)
	require.Equal(t, int64(1), got["greet"].Revision)

	res, err = m.api.Deploy(ctx, m.spec("shop",
		apitype.StateMachineSpec{Name: "greet", Type: record.StateMachineExpress, Definition: greet2Def},
		apitype.StateMachineSpec{Name: "report", Type: record.StateMachineExpress, Definition: idleDef},
	), false)
	require.NoError(t, err)
	require.Contains(t, res.PlanText, "~ state machine greet: definition\n~ state machine report: type STANDARD→EXPRESS\n- state machine nightly\n")
	got = machineNames(t, m.st, "shop")
	require.Len(t, got, 2)
	require.Equal(t, greet2Def, got["greet"].Definition)
	require.Equal(t, int64(2), got["greet"].Revision)
	require.Equal(t, record.StateMachineExpress, got["report"].Type)
	require.NotContains(t, got, "nightly")

	// The same spec again changes nothing.
	res, err = m.api.Deploy(ctx, m.spec("shop",
		apitype.StateMachineSpec{Name: "greet", Type: record.StateMachineExpress, Definition: greet2Def},
		apitype.StateMachineSpec{Name: "report", Type: record.StateMachineExpress, Definition: idleDef},
	), false)
	require.NoError(t, err)
	require.False(t, res.Applied)
	require.Contains(t, res.PlanText, "no changes")

	// Listing one deletes the other; blog's greet stays.
	_, err = m.api.Deploy(ctx, m.spec("shop",
		apitype.StateMachineSpec{Name: "report", Type: record.StateMachineExpress, Definition: idleDef},
	), false)
	require.NoError(t, err)
	require.NotContains(t, machineNames(t, m.st, "shop"), "greet")
	require.Contains(t, machineNames(t, m.st, "shop"), "report")
	require.Equal(t, idleDef, machineNames(t, m.st, "blog")["greet"].Definition)

	// A spec that lists none leaves the project's machines alone (made
	// through the AWS API, say).
	_, err = m.api.Deploy(ctx, m.spec("shop"), false)
	require.NoError(t, err)
	require.Contains(t, machineNames(t, m.st, "shop"), "report")
}

// TestDeployStateMachineValidation: the server checks a spec's machines
// as the manifest does (the spec may come from any client).
func TestDeployStateMachineValidation(t *testing.T) {
	m := newMachinesAPI(t)
	for _, tc := range []struct {
		sm   apitype.StateMachineSpec
		want string
	}{
		{apitype.StateMachineSpec{Name: "bad name", Type: "EXPRESS", Definition: idleDef}, "must be 1 to 80 characters"},
		{apitype.StateMachineSpec{Name: "x", Type: "FAST", Definition: idleDef}, `type: must be "STANDARD" or "EXPRESS", got "FAST"`},
		{apitype.StateMachineSpec{Name: "x", Type: "EXPRESS", Definition: `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`},
			"Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next"},
		{apitype.StateMachineSpec{Name: "x", Type: "EXPRESS", Definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"charge","End":true}}}`},
			`/States/T/Resource: Task resource "charge" names no function of the project`},
	} {
		_, err := m.api.Deploy(context.Background(), m.spec("shop", tc.sm), false)
		require.ErrorContains(t, err, tc.want)
	}
	require.Empty(t, machineNames(t, m.st, "shop"))
}

// TestStateMachinesAPI: list, show, start and validate, each scoped to one
// project: a token of blog neither sees nor starts shop's machines.
func TestStateMachinesAPI(t *testing.T) {
	ctx := context.Background()
	m := newMachinesAPI(t)
	_, err := m.api.Deploy(ctx, m.spec("shop",
		apitype.StateMachineSpec{Name: "greet", Type: record.StateMachineExpress, Definition: greetDef},
		apitype.StateMachineSpec{Name: "nightly", Type: record.StateMachineStandard, Definition: idleDef}), false)
	require.NoError(t, err)

	a := call(t, m.srv, shopRead, "GET", "/state-machines", "")
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	list := decode[apitype.StateMachineList](t, a)
	require.Len(t, list.StateMachines, 2)
	require.Equal(t, "greet", list.StateMachines[0].Name)
	require.Equal(t, sfn.MachineArn("shop", "greet"), list.StateMachines[0].Arn)
	require.Empty(t, list.StateMachines[0].Definition, "list leaves definitions out")

	a = do(t, m.srv, "GET", "/state-machines/greet?project=shop", "")
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, greetDef, decode[apitype.StateMachineInfo](t, a).Definition)

	// A token of every project must name one.
	a = do(t, m.srv, "GET", "/state-machines", "")
	require.Equal(t, http.StatusBadRequest, a.status)

	// Sync start runs the machine in process and answers its output.
	a = call(t, m.srv, shopDeploy, "POST", "/state-machines/greet/start", `{"input":{"n":1},"sync":true,"name":"first"}`)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	x := decode[apitype.StateMachineExecution](t, a)
	require.Equal(t, "SUCCEEDED", x.Status)
	require.Equal(t, "first", x.Name)
	require.JSONEq(t, `{"n":1,"greeting":{"hello":"world"}}`, string(x.Output))

	// A read token may not start.
	a = call(t, m.srv, shopRead, "POST", "/state-machines/greet/start", `{"sync":true}`)
	require.Equal(t, http.StatusForbidden, a.status)

	// Bad input is the caller's.
	a = call(t, m.srv, shopDeploy, "POST", "/state-machines/greet/start", `{"input":"not an object","sync":true,"name":"bad name!"}`)
	require.Equal(t, http.StatusBadRequest, a.status, string(a.body))

	// A STANDARD machine does not run to its end in a request (--sync
	// is StartSyncExecution, EXPRESS only); an execution that does not
	// exist is a 404 for history and stop. (The server's and the CLI's
	// tests run STANDARD executions on a real flow engine.)
	a = call(t, m.srv, shopDeploy, "POST", "/state-machines/nightly/start", `{"sync":true}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, errMsg(t, a), "StateMachineTypeNotSupported")
	a = call(t, m.srv, shopRead, "GET", "/state-machines/nightly/executions/e1/history", "")
	require.Equal(t, http.StatusNotFound, a.status)
	require.Contains(t, errMsg(t, a), "ExecutionDoesNotExist")
	a = call(t, m.srv, shopDeploy, "POST", "/state-machines/nightly/executions/e1/stop", "")
	require.Equal(t, http.StatusNotFound, a.status)

	// Project isolation: blog's token sees none of shop's machines and
	// cannot start them, by name or by naming the project.
	a = call(t, m.srv, blogDeploy, "GET", "/state-machines", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, decode[apitype.StateMachineList](t, a).StateMachines)
	for _, req := range []struct{ method, path string }{
		{"GET", "/state-machines/greet"},
		{"POST", "/state-machines/greet/start"},
		{"GET", "/state-machines/nightly/executions/e1/history"},
	} {
		a = call(t, m.srv, blogDeploy, req.method, req.path, `{"sync":true}`)
		require.Equal(t, http.StatusNotFound, a.status, "%s %s: %s", req.method, req.path, a.body)
		a = call(t, m.srv, blogDeploy, req.method, req.path+"?project=shop", `{"sync":true}`)
		require.Equal(t, http.StatusForbidden, a.status, "%s %s: %s", req.method, req.path, a.body)
	}
	a = call(t, m.srv, blogDeploy, "GET", "/state-machines?project=shop", "")
	require.Equal(t, http.StatusForbidden, a.status)

	// Validation needs no project.
	a = call(t, m.srv, blogDeploy, "POST", "/state-machines/validate", `{"definition":"{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"}}}"}`)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	v := decode[apitype.StateMachineValidation](t, a)
	require.Equal(t, "FAIL", v.Result)
	require.Contains(t, v.Diagnostics, apitype.StateMachineDiagnostic{Code: "MISSING_TRANSITION_TARGET", Message: "Missing 'Next' target: B", Location: "/States/A/Next"})
	a = call(t, m.srv, shopRead, "POST", "/state-machines/validate", `{"definition":`+jsonString(idleDef)+`}`)
	require.Equal(t, "OK", decode[apitype.StateMachineValidation](t, a).Result)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
