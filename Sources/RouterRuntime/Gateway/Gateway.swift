public import RouteCompiler
import RouteSpec
import Synchronization

/// A backend of the live table: its compiled settings, admission state and transport.
public final class BackendRuntime: Sendable {
  /// The compiled backend.
  public let backend: CompiledBackend
  /// In-flight limit and passive health.
  public let health: BackendHealth
  /// How requests reach it.
  public let transport: any UpstreamTransport
  /// Its OpenAI URLs and headers, checked once.
  let openAI: OpenAITargets

  /// Creates the runtime of one backend; `clock` times its passive health.
  public init(
    backend: CompiledBackend, transport: any UpstreamTransport,
    clock: @escaping @Sendable () -> MonotonicInstant = { .now }
  ) {
    self.backend = backend
    self.health = BackendHealth(limit: backend.maxConcurrency, clock: clock)
    self.transport = transport
    self.openAI = OpenAITargets(backend)
  }
}

/// A backend's name and health, for `/metrics` and the dashboard.
public struct BackendState: Sendable, Equatable {
  /// The backend's name in the route table.
  public let name: String
  /// Its admission and circuit state.
  public let health: BackendHealth.Snapshot
}

/// A client's limits and how much of each it has used in the current window (in use, for streams).
public struct ClientLimitState: Sendable, Equatable {
  /// The client's name.
  public let client: String
  /// Each limit the client has, in declaration order: its kind, its value, what is used now.
  public let limits: [Usage]

  /// One limit and its use.
  public struct Usage: Sendable, Equatable {
    public let kind: ClientLimitKind
    public let limit: Int
    public let used: Int
  }
}

/// The Gemini API front: authenticates, evaluates the route table, and forwards along the chain.
///
/// The table is read-only; `reload` swaps a whole new snapshot in, and requests already running
/// finish on the snapshot they started with.
public final class Gateway: HTTPHandler, Sendable {
  /// One table and the backends it names: a class, so that each request holds it with one reference count
  /// rather than a copy of the table (a retain and a release of each of its parts, per request).
  final class Snapshot: Sendable {
    let table: RouteTable
    let backends: [BackendRuntime]

    init(table: RouteTable, backends: [BackendRuntime]) {
      self.table = table
      self.backends = backends
    }

    // The table's own methods, called here where it is read in place: called on `snapshot.table` from an
    // exchange, each first copied the whole table.

    /// The table's ``RouteTable/authenticate(key:)``.
    func authenticate(key: String?) -> Authentication { table.authenticate(key: key) }

    /// The table's ``RouteTable/decide(_:authentication:)``.
    func decide(_ facts: consuming RequestFacts, authentication: Authentication) -> RouteDecision {
      table.decide(facts, authentication: authentication)
    }
  }

  private let snapshot: Mutex<Snapshot>
  private let makeTransport: @Sendable (CompiledBackend) -> any UpstreamTransport
  private let recordSink: @Sendable (RequestRecord) -> Void
  private let clock: @Sendable () -> MonotonicInstant
  /// Outlives reloads: its counters are keyed by client name.
  private let limiter: ClientLimiter

  /// Creates a gateway serving `table`; `transport` picks each backend's transport; `sink` receives
  /// every finished request's record (for `--verbose` and the request log); `clock` times passive
  /// health (tests inject one to cross a cool-down without waiting it out); `limiter` counts the clients'
  /// `limits` (tests inject one with their own wall clock).
  public init(
    table: RouteTable, transport: @escaping @Sendable (CompiledBackend) -> any UpstreamTransport,
    sink: @escaping @Sendable (RequestRecord) -> Void,
    clock: @escaping @Sendable () -> MonotonicInstant = { .now }, limiter: ClientLimiter = ClientLimiter()
  ) {
    self.makeTransport = transport
    self.recordSink = sink
    self.clock = clock
    self.limiter = limiter
    self.snapshot = Mutex(
      Snapshot(
        table: table,
        backends: table.backends.map { BackendRuntime(backend: $0, transport: transport($0), clock: clock) }))
  }

  /// Replaces the table as a whole.
  public func reload(_ table: RouteTable) {
    let backends = table.backends.map { BackendRuntime(backend: $0, transport: makeTransport($0), clock: clock) }
    snapshot.withLock { $0 = Snapshot(table: table, backends: backends) }
  }

  /// The table requests are evaluated against now.
  public var table: RouteTable { snapshot.withLock { $0.table } }

  /// Each backend of the live table with its admission and health state now.
  public func backendStates() -> [BackendState] {
    snapshot.withLock { $0.backends }.map { runtime in
      BackendState(name: runtime.backend.name, health: runtime.health.snapshot())
    }
  }

  /// Each client of the live table that has limits, with what it has used of them now.
  public func clientLimitStates() -> [ClientLimitState] {
    table.clients.filter { !$0.limits.isEmpty }.map { client in
      ClientLimitState(
        client: client.name,
        limits: client.limits.ordered.map {
          ClientLimitState.Usage(kind: $0.kind, limit: $0.value, used: limiter.usage(client: client.name, $0.kind))
        })
    }
  }

  /// Handles one HTTP request.
  public func handle(_ request: HTTPRequest, responder: HTTPResponder) async {
    let started = MonotonicInstant.now
    var exchange = Exchange(
      request: request, responder: responder, snapshot: snapshot.withLock { $0 }, limiter: limiter, started: started)
    await exchange.run()
    let ended = MonotonicInstant.now
    exchange.log(.exchanges(exchange.timeline.exchanges(now: ended)))
    exchange.log(.finished(at: ended))
    recordSink(exchange.record)
  }
}

/// Request identifiers: 16 hex digits, distinct within a process, differing between processes.
///
/// Each is the SplitMix64 finaliser (a bijection on 64 bits) of a per-process random seed plus a counter
/// times an odd constant, so no two requests of one process share an id, and the system CSPRNG is read
/// once per process instead of once per request (a `getrandom` call on every request's path). They name
/// requests in logs and records; they are not secrets.
enum RequestID {
  private static let seed: UInt64 = {
    var generator = SystemRandomNumberGenerator()
    return generator.next()
  }()
  private static let counter = Atomic<UInt64>(0)

  static func make() -> String { format(mixing: counter.wrappingAdd(1, ordering: .relaxed).newValue) }

  /// The id of the `sequence`-th request (the mixing is exposed for tests).
  static func format(mixing sequence: UInt64) -> String {
    var word = seed &+ sequence &* 0x9E37_79B9_7F4A_7C15
    word = (word ^ (word >> 30)) &* 0xBF58_476D_1CE4_E5B9
    word = (word ^ (word >> 27)) &* 0x94D0_49BB_1331_11EB
    word ^= word >> 31
    // Written straight into the string's storage: one allocation per request, not three.
    return String(unsafeUninitializedCapacity: 16) { buffer in
      for index in 0..<16 {
        buffer[index] = HexDigit.lowercase(UInt8(truncatingIfNeeded: word))
        word >>= 4
      }
      return 16
    }
  }
}
