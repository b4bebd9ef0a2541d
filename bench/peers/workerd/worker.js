// The workerd peer of Strata's warm HTTP benchmark: the same hello handler as
// bench/peers/nethttp, written as a Cloudflare Worker (ES module syntax).
const prefix = "/hello/";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method !== "GET" || !url.pathname.startsWith(prefix)) {
      return new Response("not found\n", { status: 404 });
    }
    const name = decodeURIComponent(url.pathname.slice(prefix.length));
    if (name === "" || name.includes("/")) {
      return new Response("not found\n", { status: 404 });
    }
    return new Response(`hello, ${name}!`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
