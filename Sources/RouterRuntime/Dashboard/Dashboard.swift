import FoundationEssentials
public import RouteSpec
import Synchronization

/// A finished request as the dashboard lists it: what its record says, without the key or the client's body.
struct RecentRequest: Sendable, Equatable {
  let id: String
  /// When it ended, seconds since 1970.
  let time: Double
  let front: String
  let method: String
  let route: String
  let client: String
  let model: String
  /// The backends tried, in order, with how each hop ended.
  let chain: [RequestRecord.Hop]
  let status: Int
  let timeToFirstToken: Double?
  let total: Double
  let tokensPerSecond: Double?
  let overhead: Double
  /// The client asked for a stream, or one was relayed.
  let stream: Bool
  let tools: Bool
  let images: Bool

  init(_ record: RequestRecord, endedAt time: Double) {
    id = record.id
    self.time = time
    front = record.front.rawValue
    method = record.method
    route = record.route
    client = record.client
    model = record.model
    chain = record.hops
    status = record.status
    timeToFirstToken = record.timeToFirstToken
    total = record.total
    tokensPerSecond = record.tokensPerSecond
    overhead = record.gatewayOverhead
    stream = record.features.stream || record.streamed
    tools = record.features.tools
    images = record.features.images
  }

  /// `stream`, `tools` and `images`, those that apply.
  var badges: [String] {
    [stream ? "stream" : nil, tools ? "tools" : nil, images ? "images" : nil].compactMap { $0 }
  }

  var json: JSONValue {
    .object([
      "id": .string(id), "time": .double(time), "front": .string(front), "method": .string(method),
      "route": .string(route), "client": .string(client), "model": .string(model),
      "chain": .array(chain.map { .object(["backend": .string($0.backend), "outcome": .string($0.outcome)]) }),
      "status": .int(Int64(status)), "ttft_ms": timeToFirstToken.map { .double(Dashboard.milliseconds($0)) } ?? .null,
      "total_ms": .double(Dashboard.milliseconds(total)),
      "tps": tokensPerSecond.map { .double(($0 * 10).rounded() / 10) } ?? .null,
      "overhead_ms": .double(Dashboard.milliseconds(overhead)),
      "badges": .array(badges.map(JSONValue.string)),
    ])
  }
}

/// The last `capacity` elements appended, oldest first; appending past the capacity drops the oldest.
struct Ring<Element: Sendable>: Sendable {
  let capacity: Int
  private var storage: [Element] = []
  /// Where the next element goes once the ring is full.
  private var next = 0

  init(capacity: Int) {
    self.capacity = max(1, capacity)
    storage.reserveCapacity(self.capacity)
  }

  // Consuming: the ring takes the caller's element rather than a copy of it (one retain and release fewer per
  // reference it holds).
  mutating func append(_ element: consuming Element) {
    if storage.count < capacity {
      storage.append(element)
    } else {
      storage[next] = element
      next = (next + 1) % capacity
    }
  }

  /// The elements, oldest first.
  var elements: [Element] { Array(storage[next...] + storage[..<next]) }

  var count: Int { storage.count }
}

/// One name's traffic over the last minute, in one-second buckets: rate, errors and mean latencies.
struct TrafficWindow: Sendable, Equatable {
  /// Seconds the window spans.
  static let seconds = 60

  struct Bucket: Sendable, Equatable {
    var second: Int64 = -1
    var count = 0
    var errors = 0
    var totalSum = 0.0
    var firstTokenSum = 0.0
    var firstTokenCount = 0
  }

  /// Figures over the window.
  struct Summary: Sendable, Equatable {
    var count = 0
    var errors = 0
    var totalSum = 0.0
    var firstTokenSum = 0.0
    var firstTokenCount = 0

    /// Requests per second over the window.
    var rate: Double { Double(count) / Double(TrafficWindow.seconds) }

    var json: JSONValue {
      .object([
        "count": .int(Int64(count)), "rate": .double((rate * 1000).rounded() / 1000),
        "errors": .int(Int64(errors)),
        "mean_ms": count > 0 ? .double(Dashboard.milliseconds(totalSum / Double(count))) : .null,
        "mean_ttft_ms": firstTokenCount > 0
          ? .double(Dashboard.milliseconds(firstTokenSum / Double(firstTokenCount))) : .null,
      ])
    }
  }

  private var buckets = Array(repeating: Bucket(), count: seconds)

  /// Counts one request that ended in `second` (seconds since 1970).
  mutating func add(second: Int64, error: Bool, total: Double, firstToken: Double?) {
    let index = Int(second.magnitude % UInt64(Self.seconds))
    // A copy of the bucket, written back once: each access of the array checks its bounds and uniqueness.
    var bucket = buckets[index]
    if bucket.second != second { bucket = Bucket(second: second) }
    bucket.count += 1
    if error { bucket.errors += 1 }
    if total.isFinite { bucket.totalSum += total }
    if let firstToken, firstToken.isFinite {
      bucket.firstTokenSum += firstToken
      bucket.firstTokenCount += 1
    }
    buckets[index] = bucket
  }

  /// The requests of the last minute up to `second`.
  func summary(at second: Int64) -> Summary {
    var summary = Summary()
    for bucket in buckets where bucket.second > second - Int64(Self.seconds) && bucket.second <= second {
      summary.count += bucket.count
      summary.errors += bucket.errors
      summary.totalSum += bucket.totalSum
      summary.firstTokenSum += bucket.firstTokenSum
      summary.firstTokenCount += bucket.firstTokenCount
    }
    return summary
  }
}

/// A request being handled now, as the dashboard lists it.
struct InFlightRequest: Sendable, Equatable {
  let method: String
  /// The request target without its query (which may carry a key), cut to ``Dashboard/pathLimit`` bytes.
  let path: String
  let started: MonotonicInstant
}

/// What the dashboard reads of the running server when it takes a snapshot.
public struct DashboardSources: Sendable {
  /// The server's live figures.
  public var gauges: @Sendable () -> ServerGauges
  /// The live table's backends and their health.
  public var backends: @Sendable () -> [BackendState]
  /// The live table's route names, in order.
  public var routes: @Sendable () -> [String]
  /// The clients with limits, and their use now.
  public var limits: @Sendable () -> [ClientLimitState]

  /// Creates the sources.
  public init(
    gauges: @escaping @Sendable () -> ServerGauges, backends: @escaping @Sendable () -> [BackendState],
    routes: @escaping @Sendable () -> [String], limits: @escaping @Sendable () -> [ClientLimitState] = { [] }
  ) {
    self.gauges = gauges
    self.backends = backends
    self.routes = routes
    self.limits = limits
  }

  /// Nothing running (tests, and until the server exists).
  public static let none = DashboardSources(
    gauges: { ServerGauges(requestsInFlight: 0, openConnections: 0) }, backends: { [] }, routes: { [] })
}

/// What `/dashboard` shows: the requests in flight, the last ``recentLimit`` finished ones, each route's and
/// backend's last minute, backend health, the route files and the last reload.
///
/// Threads: ``record(_:)`` runs when a request's record ends (on its reactor, several at once with several
/// workers) and takes one lock, which owns ``Traffic``, for a ring append, two name lookups and two window
/// updates; ``begin(method:path:)`` and ``end(_:)`` take another for the in-flight map.
/// A snapshot copies under those locks and builds its JSON outside them.
public final class Dashboard: Sendable {
  /// Finished requests kept.
  public static let recentLimit = 50
  /// In-flight requests listed (the oldest first); the count is always whole.
  static let inFlightListLimit = 50
  /// Routes and backends tracked; names past it (after many reloads) are not counted.
  static let nameLimit = 256
  /// Bytes of a request path shown.
  static let pathLimit = 160

  struct Traffic {
    var recent = Ring<RecentRequest>(capacity: Dashboard.recentLimit)
    /// The routes and backends tracked (``nameLimit`` of each at most), and their windows by id: a request
    /// whose names were seen before hashes neither.
    var routeNames = NameTable(limit: Dashboard.nameLimit)
    var routes: [TrafficWindow] = []
    var backendNames = NameTable(limit: Dashboard.nameLimit)
    var backends: [TrafficWindow] = []
    /// The last record's route and last backend, with their ids.
    var lastRoute = LastName()
    var lastBackend = LastName()
  }

  /// The route files loaded and how the last load went.
  struct Configuration: Sendable, Equatable {
    var files: [String] = []
    var generation = 1
    var lastReloadTime = 0.0
    var lastReloadSucceeded = true
    var lastReloadMessage = ""
  }

  private let traffic = Mutex(Traffic())
  private let inFlight = Mutex<(next: UInt64, requests: [UInt64: InFlightRequest])>((0, [:]))
  private let configuration: Mutex<Configuration>
  private let sources = Mutex(DashboardSources.none)
  private let wallClock: @Sendable () -> Double
  private let clock: @Sendable () -> MonotonicInstant

  /// A dashboard for a server that loaded `files`; `wallClock` gives seconds since 1970 and `clock` times
  /// in-flight requests (tests inject both).
  public init(
    files: [String], wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
    clock: @escaping @Sendable () -> MonotonicInstant = { .now }
  ) {
    self.wallClock = wallClock
    self.clock = clock
    configuration = Mutex(
      Configuration(files: files, lastReloadTime: wallClock(), lastReloadMessage: "loaded \(files.count) files"))
  }

  /// Reads the server's figures at each snapshot (set once the server exists).
  public func read(_ sources: DashboardSources) {
    self.sources.withLock { $0 = sources }
  }

  /// Notes a reload: `files` when it succeeded (the table in use then comes from them), with `message`.
  public func reloaded(succeeded: Bool, files: [String], message: String) {
    let now = wallClock()
    configuration.withLock { configuration in
      if succeeded {
        configuration.files = files
        configuration.generation += 1
      }
      configuration.lastReloadSucceeded = succeeded
      configuration.lastReloadTime = now
      configuration.lastReloadMessage = message
    }
  }

  // MARK: requests

  /// A request began; returns the token that ends it.
  func begin(method: String, path: String) -> UInt64 {
    // A method of at most 16 bytes is at most 16 characters: it is shown whole without walking its characters,
    // which every request would pay for.
    let shownMethod = method.utf8.count <= 16 ? method : String(method.prefix(16))
    let shown = InFlightRequest(method: shownMethod, path: Self.cut(path, to: Self.pathLimit), started: clock())
    return inFlight.withLock { state in
      state.next &+= 1
      state.requests[state.next] = shown
      return state.next
    }
  }

  /// The request of `token` ended.
  func end(_ token: UInt64) {
    _ = inFlight.withLock { $0.requests.removeValue(forKey: token) }
  }

  /// Adds one finished request: the gateway's record sink.
  public func record(_ record: RequestRecord) {
    let now = wallClock()
    let second = Self.second(now)
    let error = record.status >= 400
    traffic.withLock { traffic in
      // Built here so that the ring can take it: a value built before the lock is the closure's to borrow.
      traffic.recent.append(RecentRequest(record, endedAt: now))
      if let route = traffic.routeNames.id(record.route, remembering: &traffic.lastRoute) {
        Self.add(
          to: &traffic.routes, route, second: second, error: error, total: record.total,
          firstToken: record.timeToFirstToken)
      }
      if let last = record.hops.last,
        let backend = traffic.backendNames.id(last.backend, remembering: &traffic.lastBackend)
      {
        Self.add(
          to: &traffic.backends, backend, second: second, error: error, total: record.total,
          firstToken: record.timeToFirstToken)
      }
    }
  }

  /// Counts a request in the window of name `id`, opening it when the name is new.
  private static func add(
    to windows: inout [TrafficWindow], _ id: Int, second: Int64, error: Bool, total: Double, firstToken: Double?
  ) {
    if id == windows.count { windows.append(TrafficWindow()) }
    windows[id].add(second: second, error: error, total: total, firstToken: firstToken)
  }

  // MARK: snapshot

  /// Everything the page shows, now.
  public func snapshot() -> JSONValue {
    let now = wallClock()
    let instant = clock()
    let second = Self.second(now)
    // Arrays copied under the lock (their buffers shared until the next record writes); the maps built after.
    let (recent, routeTraffic, backendTraffic) = traffic.withLock {
      ($0.recent.elements, ($0.routeNames.names, $0.routes), ($0.backendNames.names, $0.backends))
    }
    let routeWindows = Dictionary(uniqueKeysWithValues: zip(routeTraffic.0, routeTraffic.1))
    let backendWindows = Dictionary(uniqueKeysWithValues: zip(backendTraffic.0, backendTraffic.1))
    let running = inFlight.withLock { Array($0.requests.values) }.sorted { $0.started < $1.started }
    let configuration = configuration.withLock { $0 }
    let sources = sources.withLock { $0 }
    let gauges = sources.gauges()
    let backends = sources.backends()

    // Routes of the live table first, in its order; then names seen in the window that it no longer has.
    var routeNames = sources.routes()
    for name in routeWindows.keys.sorted() where !routeNames.contains(name) { routeNames.append(name) }
    let routes: [JSONValue] = routeNames.map { name in
      var entry = (routeWindows[name] ?? TrafficWindow()).summary(at: second).json
      Self.set(&entry, "name", .string(name))
      return entry
    }
    var backendEntries: [JSONValue] = backends.map { backend in
      var entry = (backendWindows[backend.name] ?? TrafficWindow()).summary(at: second).json
      Self.set(&entry, "name", .string(backend.name))
      Self.set(&entry, "circuit", .string(backend.health.circuit.rawValue))
      Self.set(&entry, "in_flight", .int(Int64(backend.health.inFlight)))
      Self.set(&entry, "limit", .int(Int64(backend.health.limit)))
      Self.set(&entry, "failures", .int(Int64(backend.health.consecutiveFailures)))
      Self.set(&entry, "cool_down_ms", .int(backend.health.coolDownRemainingMilliseconds))
      return entry
    }
    let known = Set(backends.map(\.name))
    for name in backendWindows.keys.sorted() where !known.contains(name) {
      var entry = (backendWindows[name] ?? TrafficWindow()).summary(at: second).json
      Self.set(&entry, "name", .string(name))
      Self.set(&entry, "circuit", .string("gone"))
      backendEntries.append(entry)
    }
    return .object([
      "time": .double(now),
      "server": .object([
        "requests_in_flight": .int(Int64(gauges.requestsInFlight)),
        "open_connections": .int(Int64(gauges.openConnections)),
        "streams_in_flight": .int(Int64(gauges.streamsInFlight)),
      ]),
      "in_flight": .object([
        "count": .int(Int64(running.count)),
        "requests": .array(
          running.prefix(Self.inFlightListLimit).map { request in
            .object([
              "method": .string(request.method), "path": .string(request.path),
              "age_ms": .double(Self.milliseconds(RequestRecord.seconds(from: request.started, to: instant))),
            ])
          }),
      ]),
      "recent": .array(recent.reversed().map(\.json)),
      "routes": .array(routes),
      "backends": .array(backendEntries),
      "limits": .array(
        sources.limits().map { state in
          .object([
            "client": .string(state.client),
            "limits": .array(
              state.limits.map {
                .object([
                  "kind": .string($0.kind.rawValue), "limit": .int(Int64($0.limit)), "used": .int(Int64($0.used)),
                ])
              }),
          ])
        }),
      "config": .object([
        "files": .array(configuration.files.map(JSONValue.string)),
        "generation": .int(Int64(configuration.generation)),
        "last_reload": .object([
          "succeeded": .bool(configuration.lastReloadSucceeded), "time": .double(configuration.lastReloadTime),
          "message": .string(configuration.lastReloadMessage),
        ]),
      ]),
    ])
  }

  /// Seconds as milliseconds with three decimals.
  static func milliseconds(_ seconds: Double) -> Double {
    guard seconds.isFinite else { return 0 }
    return (seconds * 1e6).rounded() / 1e3
  }

  /// The whole second of a wall-clock time, saturated (the clock is ours, but a conversion must not trap).
  static func second(_ time: Double) -> Int64 {
    guard time.isFinite, time > 0 else { return 0 }
    return time >= 9e15 ? Int64(9e15) : Int64(time.rounded(.down))
  }

  /// `text` cut to at most `limit` UTF-8 bytes, on a character boundary.
  static func cut(_ text: String, to limit: Int) -> String {
    guard text.utf8.count > limit else { return text }
    var out = ""
    var used = 0
    for character in text {
      let size = character.utf8.count
      guard used + size <= limit - 3 else { break }
      out.append(character)
      used += size
    }
    return out + "..."
  }

  private static func set(_ object: inout JSONValue, _ key: String, _ value: JSONValue) {
    guard case .object(var members) = object else { return }
    members.insert(JSONMember(key, value), at: 0)
    object = .object(members)
  }
}
