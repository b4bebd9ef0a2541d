// Package asl parses, validates and interprets Amazon States Language state
// machines in process (EXPRESS-style): no store, no API, no durability.
//
// A Definition is parsed once (Parse) into compiled states whose paths,
// payload templates, intrinsic calls and choice rules are prepared ahead of
// time, so Run only walks Go values. Tasks are resolved through the Tasks
// interface, time through the Clock and Sleeper options, and an optional
// event callback receives AWS-shaped history events.
//
// Data flows as in the specification (states-language.net) and AWS's
// documentation: InputPath, Parameters, ResultSelector, ResultPath,
// OutputPath, the context object $$ and the States.* intrinsic functions.
// States in JSONata (QueryLanguage: JSONata) use Arguments, Output,
// Assign and $states instead, evaluated by xiatechs/jsonata-go.
//
// Errors carry AWS's names (States.TaskFailed, States.Runtime, ...) so
// Retry and Catch match them as Step Functions does.
package asl
