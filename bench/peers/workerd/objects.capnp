# workerd configuration for the Durable Object peer of Strata's objects
# benchmark (bench/objects.go; README.md here). The harness runs
#   workerd serve objects.capnp --socket-addr http=127.0.0.1:PORT \
#     --directory-path do-storage=/tmp/strata-bench-.../workerd-do
# so the port below is only the default for running it by hand, and the
# objects' SQLite files go to a fresh directory of each run.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "counter", worker = .counterWorker),
    # Where localDisk storage keeps one SQLite file per object; its path
    # comes from --directory-path.
    (name = "do-storage", disk = (writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8789", http = (), service = "counter"),
  ],
);

const counterWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "objects.js"),
  ],
  compatibilityDate = "2025-01-01",
  durableObjectNamespaces = [
    # enableSql: the SQLite-backed storage of Cloudflare's current Durable
    # Objects (ctx.storage.sql exists; get/put are rows of the same file).
    (className = "Counter", uniqueKey = "strata-bench-counter", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-storage"),
  bindings = [
    (name = "COUNTER", durableObjectNamespace = "Counter"),
  ],
);
