// Package lambdaapi serves the AWS Lambda Invoke API
// (POST /2015-03-31/functions/{name}/invocations, the REST-JSON protocol)
// for a project's functions, so the AWS SDKs' Lambda clients invoke
// Strata functions with nothing changed but the endpoint and the
// credentials.
//
// Authentication is the Step Functions API's (package sfn): the access key
// id of a SigV4 Authorization header, or a Bearer token, is a Strata API
// token; the signature is not checked. A token reaches its own project's
// functions only: a function of another project answers exactly as one
// that does not exist, and the invoker re-checks the project against the
// version it runs (invoke.Request.Project).
//
// RequestResponse runs the function through the Invoker and answers its
// result; Event stores the payload durably on the function's async queue
// (package events) and answers 202; DryRun checks and answers 204.
//
// The gateway mounts the Handler on the public listener for paths under
// PathPrefix; package server wires it.
package lambdaapi
