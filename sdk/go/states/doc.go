// Package states lets a function complete a Task of a STANDARD state
// machine execution that waits for a task token
// (arn:aws:states:::lambda:invoke.waitForTaskToken): SendTaskSuccess,
// SendTaskFailure and SendTaskHeartbeat do what the Step Functions
// operations of the same names do, from inside Strata, with no token or
// endpoint to configure.
//
// A function reaches only its own project's executions: a token of
// another project's execution is refused as unknown. Unlike the API, a
// second SendTaskSuccess with a used token is not refused here; it is
// never read.
package states
