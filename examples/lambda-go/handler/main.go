// Command handler is an API Gateway HTTP API handler written with AWS's
// aws-lambda-go library, with nothing Strata-specific: built for Linux as
// an executable named bootstrap, it runs on Lambda's provided runtimes and
// on Strata's.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func handler(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	name := ev.PathParameters["name"]
	if name == "error" {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("no greeting for %q", name)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	fmt.Printf("greeting %s (request %s)\n", name, lc.AwsRequestID)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body: fmt.Sprintf("Hello, %s! (%s, deadline in the future: %t)", name,
			lambdacontext.FunctionName, time.Until(deadline) > 0),
	}, nil
}

func main() { lambda.Start(handler) }
