package sfn

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// Region is the region of every ARN Strata answers with. The account is
// per project (Account), so a machine's ARN names its project without
// spelling it.
const Region = "strata"

// Account is the 12-digit account id of project in ARNs: the first eight
// bytes of SHA-256("strata project " + project), modulo 10^12. A fixed
// function of the name, so ARNs survive restarts and agree across nodes.
func Account(project string) string {
	sum := sha256.Sum256([]byte("strata project " + project))
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}

func machineArn(project, name string) string {
	return "arn:aws:states:" + Region + ":" + Account(project) + ":stateMachine:" + name
}

// expressArn is the ARN of an EXPRESS execution, in AWS's form
// (…:express:<machine>:<execution>:<id>).
func expressArn(project, machine, name, id string) string {
	return "arn:aws:states:" + Region + ":" + Account(project) + ":express:" + machine + ":" + name + ":" + id
}

// machineName returns the name in a state machine ARN of project. An ARN
// that is not a state machine's is InvalidArn; one of another region or
// account (another project) is StateMachineDoesNotExist, as AWS answers
// for a machine it does not have.
func machineName(project, arn string) (string, error) {
	if arn == "" {
		return "", errorf(errMissingParameter, "Missing required parameter: stateMachineArn")
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", errorf(errInvalidArn, "Invalid Arn: 'Resource type not valid in this context: %s'", resourceType(parts))
	}
	if parts[3] != Region || parts[4] != Account(project) {
		return "", errorf(errDoesNotExist, "State Machine Does Not Exist: '%s'", arn)
	}
	return parts[6], nil
}

func resourceType(parts []string) string {
	if len(parts) > 5 {
		return parts[5]
	}
	return strings.Join(parts, ":")
}

// checkName applies AWS's rules to a machine or execution name: 1 to 80
// characters, none of whitespace, brackets, wildcards, special
// characters or control characters.
func checkName(kind, name string) error {
	if name == "" || len(name) > 80 {
		return errorf(errInvalidName, "Invalid Name: '%s' (a %s name has 1 to 80 characters)", name, kind)
	}
	for _, r := range name {
		if r <= 0x20 || (r >= 0x7f && r <= 0x9f) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return errorf(errInvalidName, "Invalid Name: '%s' (%q is not allowed in a %s name)", name, r, kind)
		}
	}
	return nil
}
