// The workerd peer of Strata's objects benchmark: a counter Durable Object
// that reads and writes its count on every request, reached by name at
// GET /counter/{name}, as Strata's Counter class in bench/objects.go.
import { DurableObject } from "cloudflare:workers";

const prefix = "/counter/";

export class Counter extends DurableObject {
  async fetch() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    // Not awaited: the output gate holds the response until the write is
    // durable, the same promise Strata's output gate makes.
    this.ctx.storage.put("n", n);
    return new Response(String(n), {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") {
      return new Response("ok");
    }
    if (request.method !== "GET" || !url.pathname.startsWith(prefix)) {
      return new Response("not found\n", { status: 404 });
    }
    const name = decodeURIComponent(url.pathname.slice(prefix.length));
    if (name === "" || name.includes("/")) {
      return new Response("not found\n", { status: 404 });
    }
    return env.COUNTER.get(env.COUNTER.idFromName(name)).fetch(request);
  },
};
