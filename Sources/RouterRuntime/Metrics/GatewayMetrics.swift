import FoundationEssentials
import Synchronization

/// The label values of a finished request, derived from its record. Every value comes from a bounded set: route,
/// backend and client names of the route table, louter's own modes and hop outcomes, and status codes kept
/// within 100...599. Never a key, and never the model a client asked for (a glob route passes any name on).
enum RequestLabels {
  /// The class labels of statuses 100...599, by hundreds (built once rather than per request).
  static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]

  /// A table name, or `none` for the record's `-`.
  static func name(_ text: String) -> String {
    // A name of two bytes or more is neither, and skips both compares (a string compare that fails is a call).
    text.utf8.count > 1 || (!text.isEmpty && text != "-") ? text : "none"
  }

  /// The code labels of statuses 100...599, in order (built once: `String(status)` allocated per request).
  static let codes = (100...599).map { String($0) }

  /// A status as a label: the code within 100...599, else `other`.
  static func code(_ status: Int) -> String { (100...599).contains(status) ? codes[status - 100] : "other" }

  /// A status as the index of its code label: `status - 100` within 100...599, else ``otherCode``.
  static func codeIndex(_ status: Int) -> Int { (100...599).contains(status) ? status - 100 : otherCode }

  /// The code index of `other`.
  static let otherCode = 500

  /// The code label of a ``codeIndex(_:)``.
  static func code(index: Int) -> String { index < otherCode ? codes[index] : "other" }

  /// The status class label of a ``codeIndex(_:)``.
  static func statusClass(index: Int) -> String { index < otherCode ? statusClasses[index / 100] : "other" }

  /// A hop outcome as a label: louter's own words (`connect`, `timeout`, `busy`, ...) as they are; a status
  /// code within 100...599, else `other`.
  static func reason(_ outcome: String) -> String {
    guard let first = outcome.utf8.first, first >= 0x30, first <= 0x39 else { return outcome }
    return Int(outcome).map { code($0) } ?? "other"
  }
}

/// How a request ended, for the `outcome` label.
enum RequestOutcome: String, Sendable {
  /// Answered with a status below 400.
  case success
  /// Refused or answered with an error by louter before any backend was tried.
  case rejected
  /// A backend's failure was the answer.
  case backendError = "backend_error"
  /// The client went away before the answer was sent (499).
  case clientClosed = "client_closed"

  init(_ record: borrowing RequestRecord) {
    if record.status == 499 {
      self = .clientClosed
    } else {
      switch record.rejecter {
      case nil: self = .success
      case .front: self = .rejected
      case .backend: self = .backendError
      }
    }
  }

  /// The outcomes by ``index``.
  static let all: [RequestOutcome] = [.success, .rejected, .backendError, .clientClosed]

  /// The outcome's place in ``all`` (two bits of a series key).
  var index: Int {
    switch self {
    case .success: 0
    case .rejected: 1
    case .backendError: 2
    case .clientClosed: 3
    }
  }
}

/// What `/metrics` keeps per (route, backend): a histogram or counter appears once a request gave it a
/// value (a request without a first token adds nothing to that histogram).
struct RouteSeries: Sendable {
  var duration: Histogram?
  var firstToken: Histogram?
  var overhead: Histogram?
  var throughput: Histogram?
  /// Upstream latency of the hops to this backend on this route (the last hop's series, or a failed one's).
  var upstream: Histogram?
  var inputTokens: Int?
  var outputTokens: Int?

  /// Observes a request's figures (its upstream latencies are observed one by one, each in its backend's
  /// series).
  mutating func observe(
    total: Double, firstToken ttft: Double?, overhead gatewayOverhead: Double, tokensPerSecond: Double?,
    inputTokens input: Int?, outputTokens output: Int?
  ) {
    duration.observe(total, bounds: GatewayMetrics.latencyBounds)
    if let ttft { firstToken.observe(ttft, bounds: GatewayMetrics.latencyBounds) }
    overhead.observe(gatewayOverhead, bounds: GatewayMetrics.overheadBounds)
    if let tokensPerSecond { throughput.observe(tokensPerSecond, bounds: GatewayMetrics.throughputBounds) }
    // Token counts come from backends: saturate rather than trap.
    if let input { inputTokens = GatewayMetrics.adding(inputTokens ?? 0, input) }
    if let output { outputTokens = GatewayMetrics.adding(outputTokens ?? 0, output) }
  }
}

extension Histogram? {
  /// Observes `value`, creating the histogram with `bounds` at its first observation.
  fileprivate mutating func observe(_ value: Double, bounds: @autoclosure () -> [Double]) {
    // A pattern rather than `self == nil`, which copied the histogram to compare it; the bounds are read
    // only for a new histogram.
    if case .none = self { self = Histogram(bounds: bounds()) }
    self?.observe(value)
  }
}

/// The process figures read from `/proc` when scraped.
struct ProcessFigures: Sendable {
  /// Resident memory in bytes (`VmRSS`), nil where `/proc` is not there.
  var residentBytes: Int?
  /// Open descriptors (entries of `/proc/self/fd`), nil where `/proc` is not there.
  var openDescriptors: Int?
  /// User and system CPU seconds of every thread so far (louter's loops, and URLSession's threads once an
  /// https backend has been called), nil when unreadable.
  var cpuSeconds: Double? = nil
  /// The soft limit on open descriptors, nil when unreadable or unlimited.
  var maxDescriptors: Int? = nil

  /// Reads the running process's figures.
  static func current() -> ProcessFigures {
    let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    // The directory listing itself holds one descriptor while it runs; Prometheus' own clients count it too.
    let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    return ProcessFigures(
      residentBytes: status.flatMap(residentBytes(status:)), openDescriptors: descriptors,
      cpuSeconds: Posix.cpuSeconds(), maxDescriptors: Posix.descriptorLimit())
  }

  /// `VmRSS:   1234 kB` of a `/proc/PID/status` text, in bytes; nil when absent or malformed.
  static func residentBytes(status: String) -> Int? {
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      let fields = line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count == 2, fields[1] == "kB", let kibibytes = Int(fields[0]), kibibytes >= 0 else { return nil }
      let (bytes, overflow) = kibibytes.multipliedReportingOverflow(by: 1024)
      return overflow ? nil : bytes
    }
    return nil
  }
}

/// Live figures of the HTTP server, read when scraped.
public struct ServerGauges: Sendable {
  /// Requests being handled now (the scrape itself among them).
  public var requestsInFlight: Int
  /// Open client connections now.
  public var openConnections: Int
  /// Answers being streamed to clients now (dashboard event streams left out).
  public var streamsInFlight: Int

  /// Creates the figures.
  public init(requestsInFlight: Int, openConnections: Int, streamsInFlight: Int = 0) {
    self.requestsInFlight = requestsInFlight
    self.openConnections = openConnections
    self.streamsInFlight = streamsInFlight
  }
}

/// What `/metrics` reports: counters and histograms fed by every finished request's record, the route table's
/// reloads, and figures read when scraped (the server's gauges, the process's memory and descriptors).
///
/// Threads: ``record(_:)`` runs on the thread that finished the request (an event loop, several at once with
/// several workers); it holds one lock, which owns ``State``, to resolve the record's names to ids and count
/// its series. A scrape copies the state under the same lock and writes the text outside it.
public final class GatewayMetrics: Sendable {
  /// Time to first token, seconds.
  static let latencyBounds = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
  /// Output tokens per second.
  static let throughputBounds: [Double] = [1, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]

  /// Every series, keyed by the ids of its label values in ``names`` (and ``modes``). Key layouts: a request
  /// `route << 32 | backend` and `client << 32 | mode << 16 | code index << 2 | outcome index`; a (route,
  /// backend) series and a fallback or retry `route << 32 | backend` and `reason` (0 for the former); a hop
  /// `backend` and `reason`. Ids stay below 2^32 (modes below 2^16): the tables' limits.
  struct State {
    /// Route, backend, client and reason label values.
    var names = NameTable(limit: Int(UInt32.max))
    /// `mode` label values (louter's own few).
    var modes = NameTable(limit: Int(UInt16.max))
    /// Hop outcomes as recorded (`ok`, `503`, `connect`, ...), each mapped once to its reason's id in
    /// ``names`` by ``outcomeReasons``.
    var outcomes = NameTable(limit: 4096)
    var outcomeReasons: [Int] = []
    var requests = SeriesTable<Int>()
    /// Every per-(route, backend) figure of a request, kept together: a request's record is one lookup (one
    /// more per upstream exchange with an earlier hop's backend).
    var series = SeriesTable<RouteSeries>()
    var fallbacks = SeriesTable<Int>()
    var retries = SeriesTable<Int>()
    var hops = SeriesTable<Int>()
    var generation = 1
    var lastReloadSucceeded = true
    var lastReloadTime: Double
    var reloads: [Bool: Int] = [true: 0, false: 0]
    /// The last record's route, last backend, client and mode, and its last hop's outcome (keyed by the
    /// outcome as recorded, remembering its reason's id), with their ids.
    var lastRoute = LastName()
    var lastBackend = LastName()
    var lastClient = LastName()
    var lastMode = LastName()
    var lastOutcome = LastName()

    /// The id in ``names`` of `text`'s label (`none` for `-`); nil only past the table's limit.
    mutating func name(_ text: String) -> UInt64? {
      names.id(RequestLabels.name(text)).map { UInt64($0) }
    }

    /// The id in ``names`` of a hop outcome's reason label.
    mutating func reason(_ outcome: String) -> UInt64? {
      if let id = lastOutcome.id(of: outcome) { return UInt64(id) }
      guard let reason = resolveReason(outcome) else { return nil }
      lastOutcome.remember(outcome, Int(reason))
      return reason
    }

    /// ``reason(_:)`` without the last outcome's shortcut.
    private mutating func resolveReason(_ outcome: String) -> UInt64? {
      if let known = outcomes.id(outcome) {
        if known == outcomeReasons.count {
          guard let reason = names.id(RequestLabels.reason(outcome)) else { return nil }
          outcomeReasons.append(reason)
        }
        return UInt64(outcomeReasons[known])
      }
      // Past the outcomes' limit (never with louter's own words and three-digit codes): no cache.
      return names.id(RequestLabels.reason(outcome)).map { UInt64($0) }
    }
  }

  private let state: Mutex<State>
  private let gauges = Mutex<(@Sendable () -> ServerGauges)?>(nil)
  private let backends = Mutex<(@Sendable () -> [BackendState])?>(nil)
  private let wallClock: @Sendable () -> Double

  /// Metrics of a gateway whose first table was loaded now; `wallClock` gives seconds since 1970 (tests
  /// inject one).
  public init(wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
    self.wallClock = wallClock
    state = Mutex(State(lastReloadTime: wallClock()))
  }

  /// Reads the server's live figures at each scrape (set once the server exists, as it is built with the
  /// handler that serves these metrics).
  public func readGauges(_ read: @escaping @Sendable () -> ServerGauges) {
    gauges.withLock { $0 = read }
  }

  /// Reads the live table's backends and their health at each scrape.
  public func readBackends(_ read: @escaping @Sendable () -> [BackendState]) {
    backends.withLock { $0 = read }
  }

  /// Gateway overhead, seconds: small by design, so the buckets start at a tenth of a millisecond.
  static let overheadBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

  /// Counts one finished request: the gateway's record sink.
  public func record(_ record: RequestRecord) {
    let code = UInt64(RequestLabels.codeIndex(record.status))
    let outcome = UInt64(RequestOutcome(record).index)
    let tokensPerSecond = record.tokensPerSecond
    let overhead = record.gatewayOverhead
    state.withLock { state in
      // Ids are resolved under the lock (the tables are its state); a name seen before costs no hashing.
      // The last record's names cost no lookup (a new one is mapped to its label, `none` for `-`).
      guard let routeID = state.names.id(record.route, remembering: &state.lastRoute, label: RequestLabels.name),
        let backendID = state.names.id(
          record.hops.last?.backend ?? "-", remembering: &state.lastBackend, label: RequestLabels.name),
        let clientID = state.names.id(record.client, remembering: &state.lastClient, label: RequestLabels.name),
        let mode = state.modes.id(record.mode, remembering: &state.lastMode)
      else { return }
      let (route, backend, client) = (UInt64(routeID), UInt64(backendID), UInt64(clientID))
      let pair = route << 32 | backend
      let key = SeriesKey(high: pair, low: client << 32 | UInt64(mode) << 16 | code << 2 | outcome)
      state.requests[state.requests.index(key) { 0 }] += 1
      let series = state.series.index(SeriesKey(high: pair, low: 0)) { RouteSeries() }
      state.series[series].observe(
        total: record.total, firstToken: record.timeToFirstToken, overhead: overhead,
        tokensPerSecond: tokensPerSecond, inputTokens: record.inputTokens, outputTokens: record.outputTokens)
      // Each exchange's latency goes to its own backend's series: the last hop's, or an earlier one's.
      let lastBackend = record.hops.last?.backend
      for exchange in record.exchanges {
        guard let latency = exchange.latency,
          let exchangeBackend = exchange.backend == lastBackend ? backend : state.name(exchange.backend)
        else { continue }
        let index =
          exchangeBackend == backend
          ? series : state.series.index(SeriesKey(high: route << 32 | exchangeBackend, low: 0)) { RouteSeries() }
        state.series[index].upstream.observe(latency, bounds: Self.latencyBounds)
      }
      for (index, hop) in record.hops.enumerated() {
        // The last hop's backend is the request's, resolved above.
        guard let hopBackend = index == record.hops.count - 1 ? backend : state.name(hop.backend),
          let reason = state.reason(hop.outcome)
        else { continue }
        state.hops[state.hops.index(SeriesKey(high: hopBackend, low: reason)) { 0 }] += 1
        guard index < record.hops.count - 1 else { continue }
        let fallback = SeriesKey(high: route << 32 | hopBackend, low: reason)
        // The same backend again is a retry (`retry`); another one is a fallback (or a continuation).
        if record.hops[index + 1].backend == hop.backend {
          state.retries[state.retries.index(fallback) { 0 }] += 1
        } else {
          state.fallbacks[state.fallbacks.index(fallback) { 0 }] += 1
        }
      }
    }
  }

  /// Notes a reload: a new table generation when it `succeeded`, else the old table stays.
  public func reloaded(succeeded: Bool) {
    let now = wallClock()
    state.withLock { state in
      if succeeded { state.generation += 1 }
      state.lastReloadSucceeded = succeeded
      state.lastReloadTime = now
      state.reloads[succeeded, default: 0] += 1
    }
  }

  /// `total + count` for a non-negative `count`, at most `Int.max`.
  static func adding(_ total: Int, _ count: Int) -> Int {
    let (sum, overflow) = total.addingReportingOverflow(max(0, count))
    return overflow ? Int.max : sum
  }

  /// The exposition, with the server's and the process's figures read now.
  public func exposition() -> String {
    exposition(process: ProcessFigures.current())
  }

  func exposition(process: ProcessFigures) -> String {
    let snapshot = state.withLock { $0 }
    let live = gauges.withLock { $0 }?() ?? ServerGauges(requestsInFlight: 0, openConnections: 0)
    var out = PrometheusText()

    out.family(
      "louter_requests_total", .counter,
      help: "Requests answered, by route, last backend, client, mode, status and outcome.")
    let names = snapshot.names
    let requests = snapshot.requests.entries.map { key, count in
      let codeIndex = Int(key.low >> 2 & 0x3FFF)
      let labels = [
        ("route", names[Int(key.high >> 32)]), ("backend", names[Int(key.high & 0xFFFF_FFFF)]),
        ("client", names[Int(key.low >> 32)]), ("mode", snapshot.modes[Int(key.low >> 16 & 0xFFFF)]),
        ("code", RequestLabels.code(index: codeIndex)), ("status_class", RequestLabels.statusClass(index: codeIndex)),
        ("outcome", RequestOutcome.all[Int(key.low & 3)].rawValue),
      ]
      return (labels, count)
    }
    for (labels, count) in requests.sorted(by: { Self.order($0.0, $1.0) }) {
      out.sample("louter_requests_total", labels: labels, count)
    }
    let series = snapshot.series.entries.map { key, series in
      ([("route", names[Int(key.high >> 32)]), ("backend", names[Int(key.high & 0xFFFF_FFFF)])], series)
    }
    histograms(
      &out, "louter_request_duration_seconds", help: "Time from a request's arrival to its end.",
      series.compactMap { labels, series in series.duration.map { (labels, $0) } })
    histograms(
      &out, "louter_time_to_first_token_seconds",
      help: "Time from a request's arrival to its first token reaching the client.",
      series.compactMap { labels, series in series.firstToken.map { (labels, $0) } })
    histograms(
      &out, "louter_gateway_overhead_seconds",
      help: "Time of a request not spent waiting on a backend: its total less the time upstream exchanges were open.",
      series.compactMap { labels, series in series.overhead.map { (labels, $0) } })
    histograms(
      &out, "louter_upstream_latency_seconds",
      help: "Time from sending a hop's request to the first byte of the backend's answer, per hop.",
      series.compactMap { labels, series in series.upstream.map { (labels, $0) } })
    histograms(
      &out, "louter_output_tokens_per_second",
      help: "Output tokens per second of generation (after the first token for streams).",
      series.compactMap { labels, series in series.throughput.map { (labels, $0) } })
    counters(
      &out, "louter_input_tokens_total", help: "Prompt tokens, as reported or estimated.",
      series.compactMap { labels, series in series.inputTokens.map { (labels, $0) } })
    counters(
      &out, "louter_output_tokens_total", help: "Output tokens, as reported or estimated.",
      series.compactMap { labels, series in series.outputTokens.map { (labels, $0) } })
    let fallbackLabels = { (key: SeriesKey) in
      [
        ("route", names[Int(key.high >> 32)]), ("backend", names[Int(key.high & 0xFFFF_FFFF)]),
        ("reason", names[Int(key.low)]),
      ]
    }
    counters(
      &out, "louter_fallbacks_total", help: "Hops that failed and passed the request to the next backend.",
      snapshot.fallbacks.entries.map { (fallbackLabels($0), $1) })
    counters(
      &out, "louter_retries_total", help: "Hops that failed and sent the request to the same backend again.",
      snapshot.retries.entries.map { (fallbackLabels($0), $1) })
    counters(
      &out, "louter_backend_hops_total", help: "Backend hops tried, by how they ended.",
      snapshot.hops.entries.map { key, count in
        ([("backend", names[Int(key.high)]), ("outcome", names[Int(key.low)])], count)
      })

    out.family("louter_requests_in_flight", .gauge, help: "Requests being handled now, this scrape included.")
    out.sample("louter_requests_in_flight", live.requestsInFlight)
    out.family("louter_open_connections", .gauge, help: "Open client connections.")
    out.sample("louter_open_connections", live.openConnections)
    out.family(
      "louter_streams_in_flight", .gauge, help: "Answers being streamed to clients now (dashboard streams left out).")
    out.sample("louter_streams_in_flight", live.streamsInFlight)
    backendGauges(&out, backends.withLock { $0 }?() ?? [])

    out.family(
      "louter_route_table_generation", .gauge, help: "The route table in use: 1 at start, one more per good reload.")
    out.sample("louter_route_table_generation", snapshot.generation)
    out.family(
      "louter_route_table_last_reload_success", .gauge,
      help: "1 when the last load of the route files succeeded, 0 when it was refused (the old table stays).")
    out.sample("louter_route_table_last_reload_success", snapshot.lastReloadSucceeded ? 1 : 0)
    out.family(
      "louter_route_table_last_reload_timestamp_seconds", .gauge,
      help: "When the route files were last loaded, in seconds since 1970.")
    out.sample("louter_route_table_last_reload_timestamp_seconds", snapshot.lastReloadTime)
    out.family("louter_route_table_reloads_total", .counter, help: "Reloads (SIGHUP or --watch), by result.")
    out.sample("louter_route_table_reloads_total", labels: [("result", "success")], snapshot.reloads[true, default: 0])
    out.sample("louter_route_table_reloads_total", labels: [("result", "failure")], snapshot.reloads[false, default: 0])

    // Prometheus' own clients' names and help texts; a figure that could not be read is left out.
    let counts: [(name: String, help: String, value: Int?)] = [
      ("process_resident_memory_bytes", "Resident memory size in bytes.", process.residentBytes),
      ("process_open_fds", "Number of open file descriptors.", process.openDescriptors),
      ("process_max_fds", "Maximum number of open file descriptors.", process.maxDescriptors),
    ]
    for gauge in counts {
      guard let value = gauge.value else { continue }
      out.family(gauge.name, .gauge, help: gauge.help)
      out.sample(gauge.name, value)
    }
    if let seconds = process.cpuSeconds {
      out.family("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.")
      out.sample("process_cpu_seconds_total", seconds)
    }
    return out.text
  }

  private func backendGauges(_ out: inout PrometheusText, _ states: [BackendState]) {
    // A reload may list a name twice only if two tables overlap; the live table names each backend once.
    let sorted = states.sorted { $0.name < $1.name }
    out.family(
      "louter_backend_circuit", .gauge,
      help: "Passive health of each backend: 1 for its circuit's state (closed, open, half_open), 0 for the others.")
    for backend in sorted {
      for circuit in BackendHealth.Circuit.allCases {
        out.sample(
          "louter_backend_circuit", labels: [("backend", backend.name), ("state", circuit.rawValue)],
          backend.health.circuit == circuit ? 1 : 0)
      }
    }
    out.family("louter_backend_in_flight", .gauge, help: "Requests in flight on each backend.")
    for backend in sorted {
      out.sample("louter_backend_in_flight", labels: [("backend", backend.name)], backend.health.inFlight)
    }
    out.family(
      "louter_backend_consecutive_failures", .gauge, help: "Failures in a row of each backend (passive health).")
    for backend in sorted {
      out.sample(
        "louter_backend_consecutive_failures", labels: [("backend", backend.name)],
        backend.health.consecutiveFailures)
    }
  }

  private func histograms(
    _ out: inout PrometheusText, _ name: String, help: String, _ values: [([(String, String)], Histogram)]
  ) {
    out.family(name, .histogram, help: help)
    for (labels, histogram) in values.sorted(by: { Self.order($0.0, $1.0) }) {
      out.histogram(name, labels: labels, histogram)
    }
  }

  private func counters(
    _ out: inout PrometheusText, _ name: String, help: String, _ values: [([(String, String)], Int)]
  ) {
    out.family(name, .counter, help: help)
    for (labels, count) in values.sorted(by: { Self.order($0.0, $1.0) }) {
      out.sample(name, labels: labels, count)
    }
  }

  /// A stable order of label sets, so that two scrapes list series alike.
  static func order(_ left: [(String, String)], _ right: [(String, String)]) -> Bool {
    left.map(\.1).lexicographicallyPrecedes(right.map(\.1))
  }
}
