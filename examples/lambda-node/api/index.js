// An API Gateway HTTP API (payload format 2.0) handler as AWS's samples
// write it: nothing in it knows about Strata.
exports.handler = async (event, context) => {
  console.log(`${event.requestContext.http.method} ${event.rawPath} (request ${context.awsRequestId})`);
  if (event.routeKey === 'POST /echo') {
    const body = event.isBase64Encoded ? Buffer.from(event.body || '', 'base64').toString('utf8') : event.body || '';
    return {
      statusCode: 201,
      headers: { 'content-type': 'application/json' },
      cookies: ['seen=1; Path=/'],
      body: JSON.stringify({ echoed: JSON.parse(body), remainingMs: context.getRemainingTimeInMillis() > 0 }),
    };
  }
  const name = event.pathParameters.name;
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/plain' },
    body: `${process.env.GREETING}, ${name}! (${context.functionName}, ${context.memoryLimitInMB} MB)`,
  };
};
