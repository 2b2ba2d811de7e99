import FoundationEssentials
import Glibc
import RouteSpec

/// Our own HTTP/1.1 client for plain `http://` backends (a local vLLM or Ollama): pooled keep-alive
/// connections with TCP_NODELAY, bodies streamed chunk by chunk.
///
/// The exchange runs on the reactor of the calling task: a gateway handler runs on its client
/// connection's reactor, so the upstream socket is served by that same thread, from that reactor's own
/// pool, with no hand-over. Callers outside any reactor (tests, tools) use `Reactor.shared`.
public final class PlainHTTPTransport: UpstreamTransport, Sendable {
  /// The transport every plain-http backend shares.
  public static let shared = PlainHTTPTransport()

  /// Names are looked up off the loop and cached for a TTL (see `Resolver`).
  private let resolver = Resolver()

  /// Creates a transport.
  public init() {}

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    // Nothing outside its grammar reaches the request line or a header line: a CR or LF there would
    // let text from a client start a second request, with the backend's key, on this connection.
    try request.checkedForWire()
    let reactor = Reactor.currentOrShared
    // A loop keeps what each URL says (its pool is the loop's own state); any other caller reads it afresh.
    let target =
      try reactor.isCurrent
      ? reactor.upstreamPool.target(request.url, resolver: resolver) : PlainTarget(request.url, resolver: resolver)
    let addresses: [SocketAddress]
    // The cache answers on the loop; only a name not cached waits, off the loop, for getaddrinfo.
    // Unwrapped at once: each copy of an optional `Result` went through the runtime's generic witnesses.
    let answer: Resolver.Answer
    if let cached = resolver.cached(target.query) {
      answer = cached
    } else {
      answer = await resolver.resolve(target.query)
    }
    switch answer {
    case .success(let found) where !found.isEmpty: addresses = found
    case .success: throw .connectFailed("cannot resolve '\(target.url.host)': no address")
    case .failure(let error): throw .connectFailed("cannot resolve '\(target.url.host)': \(error)")
    }
    // Head and body in one buffer, written once.
    var wire: [UInt8] = []
    wire.reserveCapacity(512 + request.body.count)
    wire.append(utf8: request.method)
    wire.append(0x20)
    wire.append(utf8: target.url.pathAndQuery)
    wire.append(literal: " HTTP/1.1\r\nhost: ")
    wire.append(utf8: target.hostHeader)
    wire.append(literal: "\r\n")
    for header in request.headers where !FieldName.equal(header.name, "host") {
      HTTPFraming.appendFieldLine(name: header.name, value: header.value, to: &wire)
    }
    wire.append(literal: "content-length: ")
    wire.append(decimal: request.body.count)
    wire.append(literal: "\r\n\r\n")
    wire += request.body
    let exchange = UpstreamExchange(
      request: wire, addresses: addresses,
      deadlines: UpstreamDeadlines(request, start: .now),
      reactor: reactor)
    // On its own loop (every gateway request) the pool starts the exchange inline, without a closure.
    if reactor.isCurrent {
      reactor.upstreamPool.start(exchange)
    } else {
      await reactor.perform { reactor.upstreamPool.start(exchange) }
    }
    switch await exchange.head.wait() {
    case .success(let head): return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      exchange.body.cancel()
      throw error
    }
  }

}

/// What a plain http URL gives the wire, read once: its parts, its Host header and how its host is resolved.
/// Each loop's pool keeps those of the URLs it served, so a backend's URL is not parsed, checked and its
/// literal address read again on every request.
struct PlainTarget: Sendable {
  let url: PlainURL
  let hostHeader: String
  let query: Resolver.Query

  /// The target of `text`; fails when it is not a plain http URL with an origin-form path.
  init(_ text: String, resolver: Resolver) throws(UpstreamError) {
    guard let url = PlainURL(text) else { throw .invalidRequest("not a plain http URL") }
    guard WireGrammar.isRequestTarget(url.pathAndQuery) else {
      throw .invalidRequest(UpstreamTargetError(.requestTarget, "is not an origin-form path").description)
    }
    self.url = url
    hostHeader = url.hostHeader
    query = resolver.query(host: url.host, port: url.port)
  }
}

/// `http://host[:port]/path?query`; the host may be an IPv6 literal in brackets (`http://[::1]:8000/v1`).
struct PlainURL: Sendable {
  /// The host as written (brackets kept for IPv6).
  let host: String
  let port: Int
  let pathAndQuery: String
  var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

  // Read on the string's own UTF-8 buffer: every delimiter is ASCII, and this runs on every request.
  init?(_ text: String) {
    var text = text
    guard let parts = text.withUTF8({ Self.parts(of: $0) }) else { return nil }
    (host, port, pathAndQuery) = parts
  }

  private static func parts(of url: UnsafeBufferPointer<UInt8>) -> (host: String, port: Int, pathAndQuery: String)? {
    let scheme = "http://".utf8
    guard url.count > scheme.count else { return nil }
    for (offset, expected) in scheme.enumerated() {
      let byte = url[offset]
      // The scheme in any case; only ASCII letters fold.
      guard (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == expected else { return nil }
    }
    let authorityStart = scheme.count
    var authorityEnd = authorityStart
    while authorityEnd < url.count, url[authorityEnd] != 0x2F, url[authorityEnd] != 0x3F { authorityEnd += 1 }
    let text = { (range: Range<Int>) in String(decoding: UnsafeBufferPointer(rebasing: url[range]), as: UTF8.self) }
    var hostEnd = authorityEnd
    var portStart: Int?
    if url[authorityStart] == 0x5B {  // "[" of an IPv6 literal, kept in the host
      guard let close = url[authorityStart..<authorityEnd].firstIndex(of: 0x5D) else { return nil }
      hostEnd = close + 1
      if hostEnd != authorityEnd {
        guard url[hostEnd] == 0x3A else { return nil }
        portStart = hostEnd + 1
      }
    } else if let colon = url[authorityStart..<authorityEnd].lastIndex(of: 0x3A) {
      hostEnd = colon
      portStart = colon + 1
    }
    var port = 80
    if let portStart {
      let digits = url[portStart..<authorityEnd]
      guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
      // At most five digits: no overflow.
      port = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
      guard (1...65535).contains(port) else { return nil }
    }
    guard hostEnd > authorityStart else { return nil }
    let pathAndQuery = authorityEnd == url.count ? "/" : text(authorityEnd..<url.count)
    return (text(authorityStart..<hostEnd), port, pathAndQuery)
  }
}

/// One request/response of our own client: the bytes to send, its deadlines, the head latch and the body.
final class UpstreamExchange: Sendable {
  let request: [UInt8]
  /// Where the backend is, in the resolver's order: a connect that fails moves on to the next.
  let addresses: [SocketAddress]
  let deadlines: UpstreamDeadlines
  let head = HeadLatch()
  let body: UpstreamBody

  init(request: [UInt8], addresses: [SocketAddress], deadlines: UpstreamDeadlines, reactor: Reactor) {
    self.request = request
    self.addresses = addresses
    self.deadlines = deadlines
    let box = ExchangeBox(reactor: reactor)
    body = UpstreamBody(producer: box)
    self.box = box
  }

  /// The connection serving the exchange now (loop-thread state, behind a Sendable box for the body's
  /// callbacks, which always hop to the loop before touching it).
  let box: ExchangeBox

  /// Ends the exchange with `error`: the head (if still awaited) and the body fail.
  func fail(_ error: UpstreamError) {
    head.resolve(.failure(error))
    body.finish(error)
  }
}

/// Holds the connection an exchange runs on and which address it tried last (loop-thread state only), and passes
/// the body's pause, resume and stop to that connection on its loop.
final class ExchangeBox: UpstreamProducer, @unchecked Sendable {
  let reactor: Reactor
  var connection: UpstreamConnection?
  var addressIndex = 0

  init(reactor: Reactor) { self.reactor = reactor }

  func setPaused(_ pause: Bool) { reactor.execute { self.connection?.setPaused(pause) } }
  func stopProducing() { reactor.execute { self.connection?.cancel() } }
}

/// One reactor's upstream connections: idle keep-alive connections by address. Loop-thread state.
final class UpstreamPool {
  /// Connections are pooled by the address they reach.
  typealias Key = SocketAddress

  /// How many idle connections an address keeps, and how long one waits to be reused before it closes.
  ///
  /// Why: a burst of 10,000 streams to one backend would otherwise leave 10,000 open sockets behind, each
  /// a descriptor that clients then lack, for as long as the backend tolerates them (as nginx's
  /// `keepalive` and Go's `MaxIdleConnsPerHost`/`IdleConnTimeout` bound theirs).
  struct Limits: Sendable {
    var idlePerAddress: Int
    var idleTimeout: Duration

    /// Per loop: 256 idle connections per address, closed after 60 s unused.
    static let standard = Limits(idlePerAddress: 256, idleTimeout: .seconds(60))
  }

  let reactor: Reactor
  let limits: Limits
  /// One address's idle connections, reached by one lookup and changed in place: changing an array stored in
  /// the dictionary goes through its modify accessor, whose coroutine frames cost three `malloc`s a request.
  /// Loop-thread state, like the pool.
  final class IdleConnections {
    var connections: [UpstreamConnection] = []
  }

  private var idle: [Key: IdleConnections] = [:]
  /// What each URL this loop sent to says (``PlainTarget``), for at most ``maxTargets`` URLs.
  private var targets: [String: PlainTarget] = [:]
  /// Enough for every backend of a table (a passthrough backend's URLs differ by model); past it the map
  /// starts again, so URLs built from requests never grow it without bound.
  static let maxTargets = 256

  init(reactor: Reactor, limits: Limits = .standard) {
    self.reactor = reactor
    self.limits = limits
  }

  /// The target of `url`, read once and kept while fewer than ``maxTargets`` are. Only a valid one is kept.
  func target(_ url: String, resolver: Resolver) throws(UpstreamError) -> PlainTarget {
    if let known = targets[url] { return known }
    let target = try PlainTarget(url, resolver: resolver)
    if targets.count >= Self.maxTargets { targets.removeAll(keepingCapacity: true) }
    targets[url] = target
    return target
  }

  /// URLs whose targets are kept now (for tests).
  var keptTargets: Int { targets.count }

  /// Idle keep-alive connections held now.
  var idleConnections: Int { idle.values.reduce(0) { $0 + $1.connections.count } }

  /// Starts `exchange` on an idle connection to one of its addresses, else on a new one to the first.
  func start(_ exchange: UpstreamExchange, allowReuse: Bool = true) {
    if allowReuse {
      for address in exchange.addresses {
        if let connection = idle[address]?.connections.popLast() {
          connection.attach(exchange, reused: true)
          return
        }
      }
    }
    exchange.box.addressIndex = 0
    connect(exchange)
  }

  /// The connect to the exchange's current address failed: the next one, if any, is tried.
  func tryNextAddress(_ exchange: UpstreamExchange) -> Bool {
    guard exchange.box.addressIndex + 1 < exchange.addresses.count else { return false }
    exchange.box.addressIndex += 1
    connect(exchange)
    return true
  }

  private func connect(_ exchange: UpstreamExchange) {
    let address = exchange.addresses[exchange.box.addressIndex]
    do {
      let (fd, result) = try Posix.connect(to: address)
      var connecting = false
      if case .wouldBlock = result { connecting = true }
      let connection = UpstreamConnection(fd: fd, key: address, pool: self, connecting: connecting)
      do {
        try connection.register()
      } catch {
        Posix.close(fd)
        exchange.fail(.connectFailed(error.description))
        return
      }
      connection.attach(exchange, reused: false)
    } catch {
      if !tryNextAddress(exchange) { exchange.fail(.connectFailed(error.description)) }
    }
  }

  /// A connection finished its exchange and may carry another: kept (true) unless its address already
  /// keeps as many idle as the limit allows.
  func release(_ connection: UpstreamConnection) -> Bool {
    let kept: IdleConnections
    // A connection released before knows its address's list (the map never drops one): no lookup by address.
    if let known = connection.idleList {
      kept = known
    } else if let known = idle[connection.key] {
      kept = known
    } else {
      kept = IdleConnections()
      idle[connection.key] = kept
    }
    connection.idleList = kept
    guard kept.connections.count < limits.idlePerAddress else { return false }
    kept.connections.append(connection)
    return true
  }

  /// A connection closed.
  func forget(_ connection: UpstreamConnection) {
    idle[connection.key]?.connections.removeAll { $0 === connection }
  }
}

/// One upstream socket on a reactor, driven by an `UpstreamConnectionMachine`: this shell does the I/O
/// and hands the machine's results to the exchange. Loop-thread state.
final class UpstreamConnection: ReactorSource {
  let fd: Int32
  let key: UpstreamPool.Key
  let pool: UpstreamPool
  /// The pool's idle connections to ``key``, once this connection went back to the pool (see
  /// ``UpstreamPool/release(_:)``).
  var idleList: UpstreamPool.IdleConnections?
  private var reactor: Reactor { pool.reactor }
  private var token: UInt64 = 0
  private var machine: UpstreamConnectionMachine
  /// The actions of the machine's frequent events, emptied after each and kept with its room: no array allocated
  /// per event (see ``handle(_:)``).
  private var pending: [UpstreamConnectionMachine.Action] = []
  private var exchange: UpstreamExchange?
  private var outbound: [UInt8] = []
  private var offset = 0
  /// The one timer of this connection, at the earliest instant asked for since it was armed. It is not
  /// cancelled when an exchange ends or a pooled connection is reused: when it fires it asks the machine (or,
  /// while pooled, the idle clock) what is due and re-arms for the rest. A kept-alive connection so costs no
  /// timer-heap work per request, only one wake-up per deadline period.
  private var timer: (id: TimerHeap<() -> Void>.ID, at: MonotonicInstant)?
  /// While pooled: since when it is unused (it closes `UpstreamPool.Limits.idleTimeout` later).
  private var idleSince: MonotonicInstant?
  /// What the socket waits for in epoll now: changed only when the machine asks for something else.
  private var registeredEvents: UInt32 = Posix.epollIn | Posix.epollOut

  init(fd: Int32, key: UpstreamPool.Key, pool: UpstreamPool, connecting: Bool) {
    self.fd = fd
    self.key = key
    self.pool = pool
    machine = UpstreamConnectionMachine(connecting: connecting, now: .now)
  }

  func register() throws(IOError) {
    token = try reactor.register(fd, events: registeredEvents, source: self)
  }

  func attach(_ exchange: UpstreamExchange, reused: Bool) {
    idleSince = nil
    self.exchange = exchange
    exchange.box.connection = self
    outbound = exchange.request
    offset = 0
    handle { $0.attach(exchange.deadlines, reused: reused, now: .now, into: &$1) }
    // A connection still connecting writes once it becomes writable.
    if !machine.isClosed, !machine.isConnecting { writable() }
  }

  // MARK: events

  func ready(_ events: UInt32) {
    if events & Posix.epollOut != 0 { writable() }
    if !machine.isClosed, events & (Posix.epollIn | Posix.epollHangUp | Posix.epollError) != 0 { readable() }
  }

  func reactorStopping() { apply(machine.shutDown()) }

  /// The consumer's buffer is full (true) or has room again (false).
  func setPaused(_ pause: Bool) { apply(machine.setPaused(pause, now: .now)) }

  /// The consumer went away.
  func cancel() { apply(machine.cancel()) }

  private func writable() {
    if machine.isConnecting {
      apply(machine.connected(error: Posix.socketError(fd)?.description, now: .now))
      if machine.isClosed { return }
    }
    guard !outbound.isEmpty else { return }
    while offset < outbound.count {
      let result: IOResult<Int>
      do {
        result = try outbound.withUnsafeBytes { bytes throws(IOError) in
          try Posix.write(fd, from: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
      } catch {
        apply(machine.socketFailed(String(describing: error)))
        return
      }
      guard case .done(let count) = result else {
        apply(machine.requestWriteBlocked())
        return
      }
      offset += count
    }
    outbound = []
    offset = 0
    handle { $0.requestSent(into: &$1) }
  }

  private func readable() {
    let buffer = reactor.readBuffer
    // `wantsPause`: the body asked to pause during this read loop; its call arrives after it.
    while machine.readsNow, exchange?.body.wantsPause != true {
      let result: IOResult<Int>
      do {
        result = try Posix.read(fd, into: buffer)
      } catch {
        apply(machine.socketFailed(error.description))
        return
      }
      switch result {
      case .wouldBlock:
        return
      case .done(0):
        apply(machine.endOfInput(now: .now))
        return
      case .done(let count):
        handle { $0.received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), now: .now, into: &$1) }
        if count < buffer.count { return }
      }
    }
  }

  // MARK: actions

  /// Runs one of the machine's frequent events, which appends its actions to the connection's own buffer, and
  /// carries them out. The buffer is taken out meanwhile: an event that an action causes gets an array of its own.
  private func handle(
    _ event: (inout UpstreamConnectionMachine, inout [UpstreamConnectionMachine.Action]) -> Void
  ) {
    var actions: [UpstreamConnectionMachine.Action] = []
    swap(&actions, &pending)
    event(&machine, &actions)
    apply(actions)
    actions.removeAll(keepingCapacity: true)
    swap(&actions, &pending)
  }

  private func apply(_ actions: [UpstreamConnectionMachine.Action]) {
    for action in actions {
      switch action {
      case .deliverHead(let status, let headers):
        exchange?.head.resolve(.success(UpstreamResponseHead(status: status, headers: headers)))
      case .deliverBody(let bytes):
        exchange?.body.push(bytes)
      case .finishBody:
        exchange?.body.finish(nil)
        detach()
      case .fail(let error):
        if case .connectFailed = error, let exchange {
          // IPv6 first and a backend that listens on IPv4 only (or the reverse): the next address.
          detach()
          if !pool.tryNextAddress(exchange) { exchange.fail(error) }
        } else {
          exchange?.fail(error)
          detach()
        }
      case .retryOnFreshConnection:
        if let exchange {
          detach()
          pool.start(exchange, allowReuse: false)
        }
      case .release:
        if pool.release(self) {
          let now = MonotonicInstant.now
          idleSince = now
          arm(now.advanced(by: pool.limits.idleTimeout))
        } else {
          // Enough idle connections to this address already: this one closes.
          apply(machine.shutDown())
        }
      case .close:
        close()
      case .deadline(let instant):
        arm(instant)
      case .interest(let read, let write):
        var events: UInt32 = read ? Posix.epollIn : 0
        if write { events |= Posix.epollOut }
        // One epoll_ctl per real change: a kept-alive connection reads between requests, and asks again.
        if !machine.isClosed, events != registeredEvents {
          reactor.modify(fd, token: token, events: events)
          registeredEvents = events
        }
      }
    }
  }

  private func arm(_ instant: MonotonicInstant) {
    if let timer {
      if timer.at <= instant { return }
      reactor.cancel(timer.id)
    }
    let id = reactor.schedule(at: instant) { [self] in
      timer = nil
      timerFired(now: .now)
    }
    timer = (id, instant)
  }

  private func timerFired(now: MonotonicInstant) {
    if exchange != nil {
      apply(machine.deadlineReached(now: now))
    } else if let idleSince {
      let expiry = idleSince.advanced(by: pool.limits.idleTimeout)
      if now >= expiry { apply(machine.shutDown()) } else { arm(expiry) }
    }
  }

  private func detach() {
    exchange?.box.connection = nil
    exchange = nil
  }

  private func close() {
    // The one place the timer is cancelled: it holds this connection until it fires.
    if let timer { reactor.cancel(timer.id) }
    timer = nil
    idleSince = nil
    detach()
    pool.forget(self)
    reactor.deregister(fd, token: token)
    Posix.close(fd)
  }
}
