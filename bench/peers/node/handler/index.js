// The hello handler of the process-function benchmark, written for API
// Gateway HTTP API (payload 2.0) events as a Lambda handler is. Strata
// runs it as a sandboxed process; server.js runs the same module behind a
// bare Node.js http server, the peer.
exports.handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'text/plain' },
  body: `hello, ${event.pathParameters.name}!`,
});
