package strata

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
)

// LambdaHandler is the low-level form of a Lambda handler, as
// aws-lambda-go's lambda.Handler: the payload in, the result out, both
// JSON.
type LambdaHandler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Lambda registers an AWS Lambda Go handler as the function's handler, so
// code written for aws-lambda-go's lambda.Start runs on Strata unchanged:
//
//	func handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) { … }
//
//	func init() { strata.Lambda(handle) }
//
// handler is a LambdaHandler or a function of one of the forms lambda.Start
// accepts: zero, one or two arguments (a context.Context first, then an
// input any JSON decodes into), and no result, an error, or a result any
// JSON encodes and an error. Another form panics when Lambda is called,
// saying why, as does registering a second handler.
//
// Deploy the function with `events: lambda` (docs/lambda.md): its routes
// then deliver API Gateway HTTP API events, its queues SQS batches, its
// schedules EventBridge events, the Lambda Invoke API the payload, and
// what the handler returns is read as Lambda's sources read it. The
// context is the request's: its deadline is the invocation's. A returned
// error fails the invocation: the answer is a 500 with Lambda's error
// object ({"errorMessage", "errorType"}), which the Lambda Invoke API
// reports with X-Amz-Function-Error. A panic fails it too, its stack in
// the logs.
func Lambda(handler any) {
	h, err := lambdaHandler(handler)
	if err != nil {
		panic("strata.Lambda: " + err.Error())
	}
	register("Lambda", lambdaHTTP(h))
}

// lambdaHTTP serves h: the request's body is the payload, the answer's
// the result.
func lambdaHTTP(h LambdaHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			writeLambdaError(w, err)
			return
		}
		out, err := h.Invoke(r.Context(), payload)
		if err != nil {
			writeLambdaError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// lambdaError is the body of a failed invocation, as Lambda's runtimes
// write it.
type lambdaError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func writeLambdaError(w http.ResponseWriter, err error) {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_ = json.NewEncoder(w).Encode(lambdaError{Message: err.Error(), Type: t.Name()})
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// lambdaHandler checks handler's form once, at registration, and returns
// what calls it.
func lambdaHandler(handler any) (LambdaHandler, error) {
	if handler == nil {
		return nil, fmt.Errorf("nil handler")
	}
	if h, ok := handler.(LambdaHandler); ok {
		return h, nil
	}
	fn := reflect.ValueOf(handler)
	t := fn.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("handler is a %s, not a function or a LambdaHandler", t)
	}
	if t.IsVariadic() {
		return nil, fmt.Errorf("handler %s is variadic", t)
	}
	takesContext := t.NumIn() > 0 && t.In(0) == contextType
	var in reflect.Type
	switch {
	case t.NumIn() > 2:
		return nil, fmt.Errorf("handler %s takes %d arguments; at most 2 (a context.Context, then the input)", t, t.NumIn())
	case t.NumIn() == 2 && !takesContext:
		return nil, fmt.Errorf("handler %s takes two arguments; the first must be a context.Context", t)
	case t.NumIn() == 2:
		in = t.In(1)
	case t.NumIn() == 1 && !takesContext:
		in = t.In(0)
	}
	switch {
	case t.NumOut() > 2:
		return nil, fmt.Errorf("handler %s returns %d values; at most 2 (a result, then an error)", t, t.NumOut())
	case t.NumOut() == 2 && !t.Out(1).Implements(errorType):
		return nil, fmt.Errorf("handler %s returns two values; the second must be an error", t)
	case t.NumOut() == 1 && !t.Out(0).Implements(errorType):
		return nil, fmt.Errorf("handler %s returns one value; it must be an error (return a result and an error)", t)
	}
	return reflectHandler{fn: fn, t: t, takesContext: takesContext, in: in}, nil
}

// reflectHandler calls a handler function of a checked form.
type reflectHandler struct {
	fn           reflect.Value
	t            reflect.Type
	takesContext bool
	in           reflect.Type // nil: no input
}

func (h reflectHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	args := make([]reflect.Value, 0, 2)
	if h.takesContext {
		args = append(args, reflect.ValueOf(&ctx).Elem())
	}
	if h.in != nil {
		v := reflect.New(h.in)
		if err := json.Unmarshal(payload, v.Interface()); err != nil {
			return nil, err
		}
		args = append(args, v.Elem())
	}
	outs := h.fn.Call(args)
	var result any
	switch len(outs) {
	case 1:
		if err, _ := outs[0].Interface().(error); err != nil {
			return nil, err
		}
	case 2:
		if err, _ := outs[1].Interface().(error); err != nil {
			return nil, err
		}
		result = outs[0].Interface()
	}
	return json.Marshal(result)
}
