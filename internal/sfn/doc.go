// Package sfn serves the AWS Step Functions API (the AWS JSON 1.0
// protocol: POST / with X-Amz-Target: AWSStepFunctions.<Operation>) for a
// project's state machines, so the AWS CLI and SDKs work against Strata
// unchanged but for the endpoint.
//
// State machines are stored per project (store.StateMachines) and their
// definitions interpreted in process by package asl. EXPRESS executions
// run at once: StartSyncExecution answers with the result, StartExecution
// runs the machine in the background and keeps nothing (AWS keeps no
// EXPRESS execution for DescribeExecution either). STANDARD machines may
// be created and described; their executions come with the durable slice.
//
// Task states invoke functions of the machine's own project through the
// Invoker, never another project's. The access key id of a request's
// SigV4 Authorization header (or a Bearer token) is a Strata API token;
// the signature is not checked.
//
// The gateway mounts the Handler on the public listener for requests
// that carry the X-Amz-Target header; package server wires it.
package sfn
