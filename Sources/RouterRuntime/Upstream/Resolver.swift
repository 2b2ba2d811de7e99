import Dispatch
import Synchronization

/// Why a host has no addresses.
public enum ResolveError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Not a literal and not a host name (empty, too long, or a byte outside letters, digits, `-`, `.`, `_`).
  case invalidHost(String)
  /// A port outside 1...65535.
  case invalidPort(Int)
  /// The name does not exist or has no TCP address (`EAI_NONAME`, or an empty answer).
  case notFound(String)
  /// Any other getaddrinfo failure (`EAI_AGAIN`, `EAI_FAIL`, `EAI_SYSTEM`…): the code and its text.
  case failed(host: String, code: Int32, reason: String)
  /// No answer within the resolver's deadline.
  case timedOut(String, after: Duration)

  public var description: String {
    switch self {
    case .invalidHost(let host): "invalid host '\(host)'"
    case .invalidPort(let port): "invalid port \(port)"
    case .notFound(let host): "cannot resolve '\(host)': no such host"
    case .failed(let host, _, let reason): "cannot resolve '\(host)': \(reason)"
    case .timedOut(let host, let after): "cannot resolve '\(host)': no answer within \(after)"
    }
  }

  /// The longest host name getaddrinfo is given: 253 bytes of DNS name plus a trailing root dot.
  static let longestHostName = 254

  /// Whether `host` may be handed to getaddrinfo: 1...254 bytes of letters, digits, `-`, `.` and `_`
  /// (underscores occur in internal names). Everything else, a NUL that would cut the C string short
  /// included, is refused without a lookup.
  static func isLookupName(_ host: String) -> Bool {
    let bytes = host.utf8
    guard !bytes.isEmpty, bytes.count <= longestHostName else { return false }
    return bytes.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
        true
      default: false
      }
    }
  }
}

/// Host names to socket addresses without blocking the caller.
///
/// - Literals (`127.0.0.1`, `::1`, `[::1]`) are answered at once, never looked up.
/// - Names are looked up with ``Posix/lookup(host:port:)`` (getaddrinfo, IPv4 and IPv6) on a Dispatch queue,
///   at most ``Limits/concurrentLookups`` at a time; further names wait in FIFO order.
/// - Concurrent requests for one name share one lookup.
/// - getaddrinfo reports no TTL, so answers are kept for fixed times: ``Limits/positiveTTL`` (30 s) for
///   addresses, ``Limits/negativeTTL`` (2 s) for failures, so a missing name is not asked for on every request
///   yet a fixed DNS entry is seen soon. Expiry counts from when the answer arrived.
/// - The cache holds at most ``Limits/capacity`` names; the oldest answer is evicted first.
/// - Every lookup has a deadline (``Limits/timeout``, counted from the first request, queueing included):
///   past it the waiters get ``ResolveError/timedOut(_:after:)``, which is cached as a failure. getaddrinfo
///   cannot be cancelled, so a stuck call keeps its slot until it returns and its late answer is discarded.
///
/// The cache is keyed by the lower-cased name; ports are applied to the answer, so one lookup serves all
/// ports of a host.
public final class Resolver: Sendable {
  /// An answer: the addresses in the lookup's order, or why there are none.
  public typealias Answer = Result<[SocketAddress], ResolveError>
  /// A blocking lookup of a validated name (ports in its answer are ignored).
  public typealias Lookup = @Sendable (String) -> Answer
  /// Runs the action once after the delay (on any thread): how the deadline fires.
  public typealias Timer = @Sendable (Duration, @escaping @Sendable () -> Void) -> Void

  /// The resolver's fixed times and bounds.
  public struct Limits: Sendable {
    /// How long addresses are reused.
    public let positiveTTL: Duration
    /// How long a failure (not found, error, timeout) is reused.
    public let negativeTTL: Duration
    /// The deadline of a lookup, from its first request.
    public let timeout: Duration
    /// The most names cached.
    public let capacity: Int
    /// The most getaddrinfo calls running at once.
    public let concurrentLookups: Int

    public init(
      positiveTTL: Duration = .seconds(30), negativeTTL: Duration = .seconds(2), timeout: Duration = .seconds(5),
      capacity: Int = 1024, concurrentLookups: Int = 4
    ) {
      self.positiveTTL = positiveTTL
      self.negativeTTL = negativeTTL
      self.timeout = timeout
      self.capacity = max(1, capacity)
      self.concurrentLookups = max(1, concurrentLookups)
    }
  }

  private struct Entry {
    let answer: Answer
    let expires: MonotonicInstant
    let generation: UInt64
  }

  private struct Waiter {
    let port: UInt16
    let continuation: CheckedContinuation<Answer, Never>
  }

  /// One lookup in progress (queued or running) and who waits for it.
  private struct Flight {
    let id: UInt64
    var waiters: [Waiter]
  }

  private struct State {
    var cache: [String: Entry] = [:]
    /// Cache keys in insertion order, with the generation inserted; stale pairs are skipped.
    var insertions: [(key: String, generation: UInt64)] = []
    var insertionsHead = 0
    var flights: [String: Flight] = [:]
    /// Flights waiting for a free lookup slot, FIFO; those that timed out meanwhile are skipped.
    var queued: [(key: String, id: UInt64)] = []
    var queuedHead = 0
    var running = 0
    var nextID: UInt64 = 0
  }

  /// What a request needs: an immediate answer, or the cache key and port to look up.
  fileprivate enum Plan: Sendable {
    case answered(Answer)
    case lookUp(key: String, port: UInt16)
  }

  /// How `host:port` is answered, worked out once for a caller that asks again (a loop's upstream targets):
  /// for good (a literal address, or input no lookup could answer), or by a name's cache entry and lookup.
  public struct Query: Sendable {
    fileprivate let plan: Plan
  }

  public let limits: Limits
  private let clock: @Sendable () -> MonotonicInstant
  private let lookup: Lookup
  private let timer: Timer
  private let queue = DispatchQueue(label: "louter.resolver", attributes: .concurrent)
  private let state = Mutex(State())

  /// A resolver; tests inject the clock, the lookup and the deadline timer.
  public init(
    limits: Limits = Limits(),
    clock: @escaping @Sendable () -> MonotonicInstant = { .now },
    lookup: @escaping Lookup = { Posix.lookup(host: $0, port: 0) },
    timer: @escaping Timer = Resolver.dispatchTimer
  ) {
    self.limits = limits
    self.clock = clock
    self.lookup = lookup
    self.timer = timer
  }

  /// The default deadline timer: `DispatchQueue.global().asyncAfter`.
  public static let dispatchTimer: Timer = { delay, action in
    let (seconds, attoseconds) = delay.components
    let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    let (nanoseconds, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
    let interval: DispatchTimeInterval =
      overflow || overflow2 ? .never : .nanoseconds(Int(clamping: max(0, nanoseconds)))
    DispatchQueue.global().asyncAfter(deadline: .now() + interval, execute: action)
  }

  /// The answer for `host:port` without waiting: literals, invalid input and unexpired cached answers (failures
  /// included); nil when a lookup is needed (call ``resolve(_:port:)``). For an event loop that must not suspend.
  public func cached(host: String, port: Int, now: MonotonicInstant? = nil) -> Answer? {
    cached(query(host: host, port: port), now: now)
  }

  /// The query for `host:port`.
  public func query(host: String, port: Int) -> Query { Query(plan: plan(host, port: port)) }

  /// ``cached(host:port:now:)`` for a query worked out before.
  public func cached(_ query: Query, now: MonotonicInstant? = nil) -> Answer? {
    switch query.plan {
    case .answered(let answer): return answer
    case .lookUp(let key, let port):
      let now = now ?? clock()
      return state.withLock { Self.unexpired($0, key: key, now: now) }.map { Self.applying(port, to: $0) }
    }
  }

  /// The addresses of `host` with `port`, in the order getaddrinfo prefers. Suspends only for a lookup, which
  /// runs off the caller's thread and is shared with concurrent requests for the same name.
  public func resolve(_ host: String, port: Int) async -> Answer {
    await resolve(query(host: host, port: port))
  }

  /// ``resolve(_:port:)`` for a query worked out before.
  public func resolve(_ query: Query) async -> Answer {
    let key: String
    let wirePort: UInt16
    switch query.plan {
    case .answered(let answer): return answer
    case .lookUp(let planKey, let planPort): (key, wirePort) = (planKey, planPort)
    }
    let now = clock()
    return await withCheckedContinuation { continuation in
      enum Action {
        case answer(Answer)
        case wait
        case schedule(id: UInt64, start: Bool)
      }
      let action: Action = state.withLock { state in
        if let answer = Self.unexpired(state, key: key, now: now) { return .answer(answer) }
        let waiter = Waiter(port: wirePort, continuation: continuation)
        if state.flights[key] != nil {
          state.flights[key]?.waiters.append(waiter)
          return .wait
        }
        state.nextID &+= 1
        let id = state.nextID
        state.flights[key] = Flight(id: id, waiters: [waiter])
        if state.running < limits.concurrentLookups {
          state.running += 1
          return .schedule(id: id, start: true)
        }
        state.queued.append((key, id))
        return .schedule(id: id, start: false)
      }
      switch action {
      case .answer(let answer): continuation.resume(returning: Self.applying(wirePort, to: answer))
      case .wait: break
      case .schedule(let id, let start):
        timer(limits.timeout) { [weak self] in self?.expire(key: key, id: id) }
        if start { run(key: key, id: id) }
      }
    }
  }

  /// Starts getaddrinfo for a flight that holds a slot.
  private func run(key: String, id: UInt64) {
    queue.async { [self] in
      let answer = lookup(key)
      finish(key: key, id: id, answer: answer)
    }
  }

  /// A lookup returned: frees its slot, starts queued flights, and answers the waiters unless the deadline
  /// already did (then the late answer is dropped).
  private func finish(key: String, id: UInt64, answer: Answer) {
    let now = clock()
    let (waiters, next): ([Waiter], [(key: String, id: UInt64)]) = state.withLock { state in
      state.running -= 1
      var next: [(key: String, id: UInt64)] = []
      while state.running < limits.concurrentLookups, let item = Self.dequeue(&state) {
        state.running += 1
        next.append(item)
      }
      guard let flight = state.flights[key], flight.id == id else { return ([], next) }
      state.flights[key] = nil
      Self.insert(&state, key: key, answer: answer, now: now, limits: limits)
      return (flight.waiters, next)
    }
    for item in next { run(key: item.key, id: item.id) }
    for waiter in waiters { waiter.continuation.resume(returning: Self.applying(waiter.port, to: answer)) }
  }

  /// The deadline of a flight passed: if it is still waiting, its waiters get a timeout, which is cached.
  private func expire(key: String, id: UInt64) {
    let answer = Answer.failure(.timedOut(key, after: limits.timeout))
    let now = clock()
    let waiters: [Waiter] = state.withLock { state in
      guard let flight = state.flights[key], flight.id == id else { return [] }
      state.flights[key] = nil
      Self.insert(&state, key: key, answer: answer, now: now, limits: limits)
      return flight.waiters
    }
    for waiter in waiters { waiter.continuation.resume(returning: answer) }
  }

  private func plan(_ host: String, port: Int) -> Plan {
    guard (1...Int(UInt16.max)).contains(port) else { return .answered(.failure(.invalidPort(port))) }
    let port = UInt16(truncatingIfNeeded: port)
    if let literal = SocketAddress(literal: host, port: port) { return .answered(.success([literal])) }
    guard ResolveError.isLookupName(host) else { return .answered(.failure(.invalidHost(host))) }
    return .lookUp(key: host.lowercased(), port: port)
  }

  private static func unexpired(_ state: State, key: String, now: MonotonicInstant) -> Answer? {
    guard let entry = state.cache[key], now < entry.expires else { return nil }
    return entry.answer
  }

  private static func applying(_ port: UInt16, to answer: Answer) -> Answer {
    answer.map { addresses in addresses.map { $0.withPort(port) } }
  }

  /// The next queued flight that has not timed out.
  private static func dequeue(_ state: inout State) -> (key: String, id: UInt64)? {
    while state.queuedHead < state.queued.count {
      let item = state.queued[state.queuedHead]
      state.queuedHead += 1
      if state.queuedHead == state.queued.count {
        state.queued.removeAll(keepingCapacity: true)
        state.queuedHead = 0
      }
      if state.flights[item.key]?.id == item.id { return item }
    }
    return nil
  }

  /// Caches an answer, evicting the oldest answers beyond the capacity.
  private static func insert(
    _ state: inout State, key: String, answer: Answer, now: MonotonicInstant, limits: Limits
  ) {
    let ttl: Duration
    switch answer {
    case .success: ttl = limits.positiveTTL
    case .failure: ttl = limits.negativeTTL
    }
    state.nextID &+= 1
    state.cache[key] = Entry(answer: answer, expires: now + ttl, generation: state.nextID)
    state.insertions.append((key, state.nextID))
    while state.cache.count > limits.capacity, state.insertionsHead < state.insertions.count {
      let oldest = state.insertions[state.insertionsHead]
      state.insertionsHead += 1
      if state.cache[oldest.key]?.generation == oldest.generation { state.cache[oldest.key] = nil }
    }
    // Refreshing one name appends a pair each time: keep the list within twice the capacity.
    if state.insertions.count > 2 * limits.capacity {
      let live = state.insertions[state.insertionsHead...].filter { state.cache[$0.key]?.generation == $0.generation }
      state.insertions = Array(live)
      state.insertionsHead = 0
    }
  }

  // MARK: introspection for tests

  /// How many names are cached (expired ones included until evicted).
  var cachedNames: Int { state.withLock { $0.cache.count } }

  /// How many requests wait for `host`'s lookup.
  func waiters(for host: String) -> Int { state.withLock { $0.flights[host.lowercased()]?.waiters.count ?? 0 } }

  /// How many getaddrinfo calls hold a slot (timed-out ones included until they return).
  var runningLookups: Int { state.withLock { $0.running } }
}
