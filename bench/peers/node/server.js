// The peer of the process-function benchmark: the same handler module
// behind a bare Node.js http server, one process, no sandbox. Each request
// becomes the payload 2.0 event the handler reads (method, path and the
// route's path parameter), and its answer the response.
'use strict';
const http = require('http');
const { handler } = require('./handler/index.js');

const [host, port] = (process.argv[2] || '127.0.0.1:8080').split(':');
http.createServer(async (req, res) => {
  const path = req.url.split('?')[0];
  const parts = path.split('/');
  const event = {
    version: '2.0',
    routeKey: 'GET /hello/{name}',
    rawPath: path,
    headers: req.headers,
    pathParameters: { name: parts[2] || '' },
    requestContext: { http: { method: req.method, path } },
    isBase64Encoded: false,
  };
  try {
    const out = await handler(event, {});
    res.writeHead(out.statusCode, out.headers);
    res.end(out.body);
  } catch (e) {
    res.writeHead(500);
    res.end(String(e));
  }
}).listen(Number(port), host);
