# workerd configuration for the hello peer of Strata's warm HTTP benchmark.
# The harness overrides the listen address with
#   workerd serve config.capnp --socket-addr http=127.0.0.1:PORT
# so the port below is only the default for running it by hand.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "hello", worker = .helloWorker),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8788", http = (), service = "hello"),
  ],
);

const helloWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.js"),
  ],
  compatibilityDate = "2025-01-01",
);
