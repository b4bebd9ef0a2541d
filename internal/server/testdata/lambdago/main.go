// Command lambdago is an AWS Lambda Go handler, written against
// aws-lambda-go's event types as for lambda.Start, registered with
// strata.Lambda: GET /hi/{name} answers 201 "hello <name>" with a
// cookie; ?fail=1 returns an error.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	strata "github.com/stratahq/strata/sdk/go"
)

func handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.QueryStringParameters["fail"] == "1" {
		return events.APIGatewayV2HTTPResponse{}, errors.New("asked to fail")
	}
	if _, ok := ctx.Deadline(); !ok {
		return events.APIGatewayV2HTTPResponse{}, errors.New("no deadline in the context")
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 201,
		Headers:    map[string]string{"Content-Type": "text/plain", "X-Route-Key": req.RouteKey},
		Cookies:    []string{"seen=1; Path=/"},
		Body:       "hello " + req.PathParameters["name"],
	}, nil
}

func init() { strata.Lambda(handle) }

func main() {}
