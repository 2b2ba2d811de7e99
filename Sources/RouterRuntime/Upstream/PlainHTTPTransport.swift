import Foundation
import Glibc
import Synchronization

/// Our own HTTP/1.1 client for plain `http://` backends (a local vLLM or Ollama): pooled keep-alive
/// connections with TCP_NODELAY, bodies streamed chunk by chunk.
///
/// The exchange runs on the reactor of the calling task: a gateway handler runs on its client
/// connection's reactor, so the upstream socket is served by that same thread, from that reactor's own
/// pool, with no hand-over. Callers outside any reactor (tests, tools) use `Reactor.shared`.
public final class PlainHTTPTransport: UpstreamTransport, Sendable {
  /// The transport every plain-http backend shares.
  public static let shared = PlainHTTPTransport()

  private let addresses = Mutex<[String: in_addr]>([:])

  /// Creates a transport.
  public init() {}

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    // Nothing outside its grammar reaches the request line or a header line: a CR or LF there would
    // let text from a client start a second request, with the backend's key, on this connection.
    try request.checkedForWire()
    guard let target = PlainURL(request.url) else { throw .invalidRequest("not a plain http URL") }
    guard WireGrammar.isRequestTarget(target.pathAndQuery) else {
      throw .invalidRequest(UpstreamTargetError(.requestTarget, "is not an origin-form path").description)
    }
    guard let address = resolve(target.host) else { throw .connectFailed("cannot resolve '\(target.host)'") }
    var head = "\(request.method) \(target.pathAndQuery) HTTP/1.1\r\nhost: \(target.hostHeader)\r\n"
    for header in request.headers where header.name.lowercased() != "host" {
      head += "\(header.name): \(header.value)\r\n"
    }
    head += "content-length: \(request.body.count)\r\n\r\n"
    let reactor = Reactor.currentOrShared
    let exchange = UpstreamExchange(
      request: Array(head.utf8) + request.body, key: UpstreamPool.Key(address: address.s_addr, port: target.port),
      deadlines: UpstreamDeadlines(request, start: .now), reactor: reactor)
    await reactor.perform { reactor.upstreamPool.start(exchange) }
    switch await exchange.head.wait() {
    case .success(let head): return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      exchange.body.cancel()
      throw error
    }
  }

  private func resolve(_ host: String) -> in_addr? {
    if let cached = addresses.withLock({ $0[host] }) { return cached }
    guard let address = Posix.resolveIPv4(host) else { return nil }
    addresses.withLock { $0[host] = address }
    return address
  }
}

/// `http://host[:port]/path?query`.
struct PlainURL {
  let host: String
  let port: Int
  let pathAndQuery: String
  var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

  init?(_ text: String) {
    guard text.lowercased().hasPrefix("http://") else { return nil }
    let rest = text.dropFirst(7)
    let authority = rest.prefix { $0 != "/" && $0 != "?" }
    pathAndQuery = rest.dropFirst(authority.count).isEmpty ? "/" : String(rest.dropFirst(authority.count))
    if let colon = authority.lastIndex(of: ":"), !authority.hasPrefix("[") {
      guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
      host = String(authority[..<colon])
      self.port = port
    } else {
      host = String(authority)
      port = 80
    }
    if host.isEmpty { return nil }
  }
}

/// One request/response of our own client: the bytes to send, its deadlines, the head latch and the body.
final class UpstreamExchange: Sendable {
  let request: [UInt8]
  let key: UpstreamPool.Key
  let deadlines: UpstreamDeadlines
  let head = HeadLatch()
  let body: UpstreamBody

  init(request: [UInt8], key: UpstreamPool.Key, deadlines: UpstreamDeadlines, reactor: Reactor) {
    self.request = request
    self.key = key
    self.deadlines = deadlines
    let box = ExchangeBox()
    body = UpstreamBody(
      flowControl: { pause in reactor.execute { box.connection?.setPaused(pause) } },
      onCancel: { reactor.execute { box.connection?.cancel() } })
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

/// Holds the connection an exchange runs on; read and written on the loop thread only.
final class ExchangeBox: @unchecked Sendable {
  var connection: UpstreamConnection?
}

/// One reactor's upstream connections: idle keep-alive connections by address. Loop-thread state.
final class UpstreamPool {
  struct Key: Hashable {
    let address: UInt32
    let port: Int
  }

  let reactor: Reactor
  private var idle: [Key: [UpstreamConnection]] = [:]

  init(reactor: Reactor) { self.reactor = reactor }

  /// Idle keep-alive connections held now.
  var idleConnections: Int { idle.values.reduce(0) { $0 + $1.count } }

  /// Starts `exchange` on an idle connection to its address, else on a new one.
  func start(_ exchange: UpstreamExchange, allowReuse: Bool = true) {
    if allowReuse, let connection = idle[exchange.key]?.popLast() {
      connection.attach(exchange, reused: true)
      return
    }
    do {
      let (fd, result) = try Posix.connect(to: in_addr(s_addr: exchange.key.address), port: exchange.key.port)
      var connecting = false
      if case .wouldBlock = result { connecting = true }
      let connection = UpstreamConnection(fd: fd, key: exchange.key, pool: self, connecting: connecting)
      do {
        try connection.register()
      } catch {
        Posix.close(fd)
        exchange.fail(.connectFailed(error.description))
        return
      }
      connection.attach(exchange, reused: false)
    } catch {
      exchange.fail(.connectFailed(error.description))
    }
  }

  /// A connection finished its exchange and may carry another.
  func release(_ connection: UpstreamConnection) {
    idle[connection.key, default: []].append(connection)
  }

  /// A connection closed.
  func forget(_ connection: UpstreamConnection) {
    idle[connection.key]?.removeAll { $0 === connection }
  }
}

/// One upstream socket on a reactor: writes the request, parses the answer, feeds the body, enforces
/// the exchange's deadlines with one timer. Loop-thread state.
final class UpstreamConnection: ReactorSource {
  let fd: Int32
  let key: UpstreamPool.Key
  let pool: UpstreamPool
  private var reactor: Reactor { pool.reactor }
  private var token: UInt64 = 0
  private var exchange: UpstreamExchange?
  private var parser = HTTPResponseParser()
  private var outbound: [UInt8] = []
  private var offset = 0
  private var connecting: Bool
  private var reused = false
  private var keepAlive = true
  private var paused = false
  private var headReceived = false
  private var lastActivity = ContinuousClock.now
  private var closed = false
  private var timer: (id: TimerHeap<() -> Void>.ID, at: ContinuousClock.Instant)?

  init(fd: Int32, key: UpstreamPool.Key, pool: UpstreamPool, connecting: Bool) {
    self.fd = fd
    self.key = key
    self.pool = pool
    self.connecting = connecting
  }

  func register() throws(IOError) {
    token = try reactor.register(fd, events: Posix.epollIn | Posix.epollOut, source: self)
  }

  func attach(_ exchange: UpstreamExchange, reused: Bool) {
    self.exchange = exchange
    self.reused = reused
    exchange.box.connection = self
    headReceived = false
    lastActivity = .now
    parser = HTTPResponseParser()
    outbound = exchange.request
    offset = 0
    paused = false
    checkDeadlines()
    if !connecting { writable() }
    if !closed { updateInterest() }
  }

  private var stage: UpstreamDeadlines.Stage {
    if connecting { return .connecting }
    if !headReceived { return .awaitingHead }
    return .receiving(lastActivity: lastActivity, paused: paused)
  }

  /// Fails the exchange if one of its deadlines passed, else keeps one timer at the next check.
  private func checkDeadlines() {
    guard let exchange else { return }
    switch exchange.deadlines.check(stage, now: .now) {
    case .expired(let timeout):
      fail(.timedOut(phase: timeout))
    case .checkAgain(let instant):
      if let timer {
        if timer.at <= instant { return }
        reactor.cancel(timer.id)
      }
      let id = reactor.schedule(at: instant) { [self] in
        timer = nil
        checkDeadlines()
      }
      timer = (id, instant)
    }
  }

  private func updateInterest() {
    var events: UInt32 = paused ? 0 : Posix.epollIn
    if connecting || offset < outbound.count { events |= Posix.epollOut }
    reactor.modify(fd, token: token, events: events)
  }

  func ready(_ events: UInt32) {
    if events & Posix.epollOut != 0 { writable() }
    if !closed, events & (Posix.epollIn | Posix.epollHangUp | Posix.epollError) != 0 { readable() }
  }

  func reactorStopping() { fail(.cancelled) }

  /// The consumer's buffer is full (true) or has room again (false).
  func setPaused(_ pause: Bool) {
    guard !closed, exchange != nil, paused != pause else { return }
    paused = pause
    if !pause { lastActivity = .now }
    updateInterest()
    checkDeadlines()
  }

  /// The consumer went away.
  func cancel() {
    guard !closed, let exchange else { return }
    exchange.head.resolve(.failure(.cancelled))
    close()
  }

  private func writable() {
    if connecting {
      connecting = false
      if let error = Posix.socketError(fd) {
        fail(.connectFailed(error.description))
        return
      }
    }
    while offset < outbound.count {
      let result: IOResult<Int>
      do {
        result = try outbound.withUnsafeBytes { bytes throws(IOError) in
          try Posix.write(fd, from: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
      } catch {
        retryOrFail(.connectionReset(String(describing: error)))
        return
      }
      guard case .done(let count) = result else { break }
      offset += count
    }
    if offset >= outbound.count, !outbound.isEmpty {
      outbound = []
      offset = 0
    }
    updateInterest()
  }

  private func readable() {
    let buffer = reactor.readBuffer
    // `wantsPause`: the body asked to pause during this read loop; its call arrives after it.
    while !closed, !paused, exchange?.body.wantsPause != true {
      let result: IOResult<Int>
      do {
        result = try Posix.read(fd, into: buffer)
      } catch {
        retryOrFail(.connectionReset(error.description))
        return
      }
      switch result {
      case .wouldBlock:
        return
      case .done(0):
        guard exchange != nil else {
          close()
          return
        }
        if parser.isAtStart {
          retryOrFail(.connectionReset("the backend closed the connection without answering"))
          return
        }
        deliver(parser.endOfStream())
        close()
        return
      case .done(let count):
        guard exchange != nil else {
          // An idle pooled connection must stay silent: anything it says makes it unusable.
          close()
          return
        }
        lastActivity = .now
        deliver(parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count])))
        if count < buffer.count { return }
      }
    }
  }

  private func deliver(_ events: [HTTPResponseParser.Event]) {
    guard let exchange else { return }
    for event in events {
      switch event {
      case .head(let status, let headers, let keepAlive):
        self.keepAlive = keepAlive
        headReceived = true
        checkDeadlines()
        exchange.head.resolve(
          .success(UpstreamResponseHead(status: status, headers: UpstreamHeaders(headers.map { ($0.name, $0.value) }))))
      case .body(let bytes):
        exchange.body.push(bytes)
      case .end:
        exchange.body.finish(nil)
        detach()
        if keepAlive, !closed {
          pool.release(self)
          updateInterest()
        } else {
          close()
        }
        return
      case .error(let message):
        fail(.invalidResponse(message))
        return
      }
    }
  }

  private func detach() {
    exchange?.box.connection = nil
    exchange = nil
    if let timer { reactor.cancel(timer.id) }
    timer = nil
  }

  /// A reused keep-alive connection may have been closed by the backend just before we used it:
  /// the request never reached it, so one fresh connection is tried before failing.
  private func retryOrFail(_ error: UpstreamError) {
    guard reused, parser.isAtStart, let exchange else {
      fail(error)
      return
    }
    detach()
    close()
    pool.start(exchange, allowReuse: false)
  }

  private func fail(_ error: UpstreamError) {
    exchange?.fail(error)
    close()
  }

  private func close() {
    guard !closed else { return }
    closed = true
    detach()
    pool.forget(self)
    reactor.deregister(fd, token: token)
    Posix.close(fd)
  }
}
