import Dispatch
import FoundationEssentials
import Glibc
import RouteCompiler
import RouteSpec
import RouterRuntime
import Synchronization

/// `louter serve [--routes DIR] [--listen HOST:PORT] [--verbose]`.
enum ServeCommand {
  static let usage =
    "louter serve [--routes DIR] [--listen HOST:PORT] [--workers N] [--verbose] [--grace SECONDS] [--watch]"
  static let help = """
    Run the gateway: the Gemini API on HOST:PORT, routed by the compiled route table.
    Refuses to start when the routes have errors (an unset ${VAR} is an error here).

    Usage: \(usage)

    Options:
      --routes DIR         route files (default: ./routes)
      --listen HOST:PORT   overrides [server] listen (default 127.0.0.1:8080); port 0 picks a free port
      --workers N          overrides [server] workers: event loops, each on its own thread with its own
                           connections and upstream pool (1 to 1024, default one per core)
      --verbose            one line per request on stderr: id, client, route, backends tried, mode,
                           model -> rewritten model, status, TTFT, total, tokens in/out, tokens/s
      --grace SECONDS      on SIGTERM/SIGINT, how long in-flight requests may take to finish
                           (0 to 3600, default 10)

      --watch              reload when a *.toml file in the routes folder changes (inotify; after
                           250 ms without changes, at most 2 s after the first), exactly as SIGHUP does

    SIGHUP reloads the route files; the new table replaces the old one whole, or the old one stays
    when the new files have errors. GET /readyz reports the last reload (last_reload.succeeded) and
    stays 200 after a refused one: the old table is still serving.

    GET /metrics serves Prometheus metrics to a caller with one of [server] admin_keys (as
    Authorization: Bearer KEY); without admin_keys, only while listening on a loopback address.
    GET /dashboard is a live read-only page (its snapshots stream from GET /dashboard/events) under the
    same rule; a browser passes the admin key as /dashboard?key=KEY.
    """

  /// Accepted `--grace` seconds: a longer drain is an operator mistake (and keeps the millisecond count small).
  static let graceRange: ClosedRange<Double> = 0...3600
  /// Accepted `--workers`, as for `[server] workers`.
  static let workerRange =
    Double(
      RouteCompiler.Defaults.workerRange.lowerBound)...Double(
      RouteCompiler.Defaults.workerRange.upperBound)

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(
        rawArguments, values: ["--routes", "--listen", "--grace", "--workers"],
        flags: ["--verbose", "--watch", "-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    guard arguments.positional.isEmpty else {
      return CommandLineInterface.usageError("unexpected argument '\(arguments.positional[0])'", usage)
    }
    var listenOverride: ListenAddress?
    if let text = arguments.value("--listen") {
      guard let address = ListenAddress.parse(text) else {
        return CommandLineInterface.usageError("--listen takes HOST:PORT, got '\(text)'", usage)
      }
      listenOverride = address
    }
    let grace: Double
    let workersOverride: Int?
    do {
      grace = try arguments.number("--grace", in: graceRange) ?? 10
      workersOverride = try arguments.number("--workers", in: workerRange).map { Int($0) }
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if let text = arguments.value("--workers"), !text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
      return CommandLineInterface.usageError("--workers takes a whole number from 1 to 1024, got '\(text)'", usage)
    }
    // Before any thread starts, so every thread inherits the mask and only `serveSignals` takes them.
    Posix.blockSignals(handledSignals)
    // Every held stream costs a descriptor (two with a network backend): take what the system allows.
    Posix.raiseDescriptorLimit()
    let routes = arguments.value("--routes") ?? "routes"
    let load = ConfigurationLoad.load(paths: [routes], mode: .serve)
    DiagnosticOutput(format: .human).print(load.diagnostics, sources: load.sources)
    guard let table = load.table else {
      StandardStream.error.write("louter: not starting: the route files have errors\n")
      return 1
    }
    if let problem = TransportFactory.missingHTTPSLibrary(for: table) {
      StandardStream.error.write("louter: \(problem)\n")
    }
    let requestLog: RequestLog
    do {
      requestLog = try RequestLog.open(verbose: arguments.flag("--verbose"), target: table.server.requestLog)
    } catch {
      StandardStream.error.write("louter: request log off: cannot open it: \(error)\n")
      requestLog = RequestLog(verboseFD: arguments.flag("--verbose") ? STDERR_FILENO : nil, jsonFD: nil)
    }
    let metrics = GatewayMetrics()
    let dashboard = Dashboard(files: load.sources.files.map(\.path))
    let gateway = Gateway(
      table: table, transport: TransportFactory.make,
      sink: {
        requestLog.log($0)
        metrics.record($0)
        dashboard.record($0)
      })
    let listen = listenOverride ?? table.server.listen
    let reloads = ReloadStatus()
    let loopback = MetricsAccess.isLoopback(host: listen.host)
    let streams = DashboardStreams()
    let handler = EndpointRouter(
      endpoints: [
        ReadinessEndpoint(status: reloads, routeCount: { gateway.table.routes.count }),
        MetricsEndpoint(metrics: metrics, loopback: loopback, server: { gateway.table.server }),
        DashboardEndpoint(dashboard: dashboard, streams: streams, loopback: loopback, server: { gateway.table.server }),
      ],
      inner: gateway, inFlight: dashboard)
    let configuration = HTTPServerConfiguration(
      host: listen.host, port: listen.port, maxBodyBytes: table.server.maxRequestBody,
      headTimeout: table.server.headerTimeout.duration, bodyTimeout: table.server.bodyTimeout.duration,
      idleTimeout: table.server.idleTimeout.duration,
      workers: workersOverride ?? table.server.workers ?? Posix.processorCount, idlePoll: table.server.idlePoll)
    let server = HTTPServer(configuration: configuration, handler: handler)
    let gauges: @Sendable () -> ServerGauges = {
      // The dashboard's own event streams are streamed answers too, but not traffic.
      ServerGauges(
        requestsInFlight: server.activeRequestCount, openConnections: server.connectionCount,
        streamsInFlight: max(0, server.activeStreamCount - streams.active))
    }
    metrics.readGauges(gauges)
    metrics.readBackends { gateway.backendStates() }
    dashboard.read(
      DashboardSources(
        gauges: gauges, backends: { gateway.backendStates() }, routes: { gateway.table.routes.map(\.name) },
        limits: { gateway.clientLimitStates() }))
    let reloader = Reloader(gateway: gateway, metrics: metrics, dashboard: dashboard, status: reloads, routes: routes)
    // Before listening: a folder that cannot be watched stops the start, with nothing to undo.
    var watcher: RouteFolderWatcher?
    if arguments.flag("--watch") {
      do {
        watcher = try RouteFolderWatcher(folder: routes) { reloader.reload(.watch) }
      } catch {
        StandardStream.error.write("louter: cannot watch '\(routes)': \(error)\n")
        return 1
      }
    }
    let port: Int
    do {
      port = try server.start()
    } catch {
      StandardStream.error.write("louter: cannot listen on \(listen): \(error)\n")
      watcher?.stop()
      return 1
    }
    let shown = ListenAddress(host: listen.host, port: port)
    print(
      "louter \(LouterVersion.current) listening on http://\(shown) (\(table.routes.count) routes, "
        + "\(table.backends.count) backends)")
    fflush(nil)
    serveSignals(
      server: server, reloader: reloader, watcher: watcher, streams: streams, requestLog: requestLog, grace: grace)
  }

  /// The signals `serve` acts on: SIGTERM and SIGINT drain and exit, SIGHUP reloads the routes.
  static let handledSignals = [SIGTERM, SIGINT, SIGHUP]

  /// Takes the handled signals one by one on the main thread, for the life of the process.
  ///
  /// They were blocked before any thread started (see `run`), so one that arrives while the server is
  /// starting stays pending until this loop takes it: none is lost, and none kills the process.
  static func serveSignals(
    server: HTTPServer, reloader: Reloader, watcher: RouteFolderWatcher?, streams: DashboardStreams,
    requestLog: RequestLog, grace: Double
  ) -> Never {
    while true {
      let signalNumber = Posix.waitForSignal(handledSignals)
      if signalNumber == SIGHUP {
        reloader.reload(.signal)
        continue
      }
      // No reload may start while draining; one under way finishes first.
      watcher?.stop()
      // Dashboard streams would hold the drain for the whole grace period: they end first.
      streams.stop()
      // Never blocks: stderr may be a pipe that nobody reads (`--verbose` filled it), and this thread must exit.
      Posix.writeIfReady(fd: STDERR_FILENO, line: "louter: shutting down (grace \(grace)s)\n")
      let drained = DispatchSemaphore(value: 0)
      Task {
        await server.shutdown(gracePeriod: .milliseconds(Int64(grace * 1000)))
        drained.signal()
      }
      drained.wait()
      // The last lines reach a live reader; a reader that is gone or stalled costs them, never a hang.
      _ = requestLog.close(deadline: .now() + .milliseconds(Int(logFlushSeconds(grace: grace) * 1000)))
      exit(0)
    }
  }

  /// How long shutdown waits for the request log to be written: the grace period, and at least one second
  /// so that `--grace 0` still writes the last lines to a reader that is keeping up.
  static func logFlushSeconds(grace: Double) -> Double { max(grace, 1) }

}

/// The one reload path of `serve`, for SIGHUP and `--watch` alike: compile the routes again, swap the table
/// only when the set has no errors, and record the outcome in `/metrics` and `/readyz`. One reload at a time, so
/// an older set can never replace a newer one that was compiled alongside it.
final class Reloader: Sendable {
  let gateway: Gateway
  let metrics: GatewayMetrics
  let dashboard: Dashboard
  let status: ReloadStatus
  let routes: String
  private let serial = Mutex(())

  init(gateway: Gateway, metrics: GatewayMetrics, dashboard: Dashboard, status: ReloadStatus, routes: String) {
    self.gateway = gateway
    self.metrics = metrics
    self.dashboard = dashboard
    self.status = status
    self.routes = routes
  }

  /// Reloads now (blocking the calling thread, never an event loop: the signal thread or the watcher's).
  func reload(_ trigger: ReloadTrigger) {
    serial.withLock { _ in
      let load = ConfigurationLoad.load(paths: [routes], mode: .serve)
      DiagnosticOutput(format: .human).print(load.diagnostics, sources: load.sources)
      let errors = load.diagnostics.filter { $0.severity == .error }.count
      let message: String
      if let table = load.table {
        gateway.reload(table)
        message = "reloaded \(table.routes.count) routes (\(trigger))"
      } else {
        message = "reload refused (\(trigger)): the route files have errors (\(errors))"
      }
      Posix.writeIfReady(fd: STDERR_FILENO, line: "louter: \(message)\n")
      metrics.reloaded(succeeded: load.table != nil)
      dashboard.reloaded(succeeded: load.table != nil, files: load.sources.files.map(\.path), message: message)
      status.record(
        ReloadOutcome(
          succeeded: load.table != nil, errors: load.table == nil ? errors : 0, trigger: trigger,
          unixTime: Int64(time(nil))))
    }
  }
}
