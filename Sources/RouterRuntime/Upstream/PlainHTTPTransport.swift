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

/// One upstream socket on a reactor, driven by an `UpstreamConnectionMachine`: this shell does the I/O
/// and hands the machine's results to the exchange. Loop-thread state.
final class UpstreamConnection: ReactorSource {
  let fd: Int32
  let key: UpstreamPool.Key
  let pool: UpstreamPool
  private var reactor: Reactor { pool.reactor }
  private var token: UInt64 = 0
  private var machine: UpstreamConnectionMachine
  private var exchange: UpstreamExchange?
  private var outbound: [UInt8] = []
  private var offset = 0
  private var timer: (id: TimerHeap<() -> Void>.ID, at: ContinuousClock.Instant)?

  init(fd: Int32, key: UpstreamPool.Key, pool: UpstreamPool, connecting: Bool) {
    self.fd = fd
    self.key = key
    self.pool = pool
    machine = UpstreamConnectionMachine(connecting: connecting, now: .now)
  }

  func register() throws(IOError) {
    token = try reactor.register(fd, events: Posix.epollIn | Posix.epollOut, source: self)
  }

  func attach(_ exchange: UpstreamExchange, reused: Bool) {
    self.exchange = exchange
    exchange.box.connection = self
    outbound = exchange.request
    offset = 0
    apply(machine.attach(exchange.deadlines, reused: reused, now: .now))
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
      guard case .done(let count) = result else { return }
      offset += count
    }
    outbound = []
    offset = 0
    apply(machine.requestSent())
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
        apply(machine.received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), now: .now))
        if count < buffer.count { return }
      }
    }
  }

  // MARK: actions

  private func apply(_ actions: [UpstreamConnectionMachine.Action]) {
    for action in actions {
      switch action {
      case .deliverHead(let status, let headers):
        exchange?.head.resolve(
          .success(UpstreamResponseHead(status: status, headers: UpstreamHeaders(headers.map { ($0.name, $0.value) }))))
      case .deliverBody(let bytes):
        exchange?.body.push(bytes)
      case .finishBody:
        exchange?.body.finish(nil)
        detach()
      case .fail(let error):
        exchange?.fail(error)
        detach()
      case .retryOnFreshConnection:
        if let exchange {
          detach()
          pool.start(exchange, allowReuse: false)
        }
      case .release:
        pool.release(self)
      case .close:
        close()
      case .deadline(let instant):
        arm(instant)
      case .interest(let read, let write):
        var events: UInt32 = read ? Posix.epollIn : 0
        if write { events |= Posix.epollOut }
        if !machine.isClosed { reactor.modify(fd, token: token, events: events) }
      }
    }
  }

  private func arm(_ instant: ContinuousClock.Instant) {
    if let timer {
      if timer.at <= instant { return }
      reactor.cancel(timer.id)
    }
    let id = reactor.schedule(at: instant) { [self] in
      timer = nil
      apply(machine.deadlineReached(now: .now))
    }
    timer = (id, instant)
  }

  private func detach() {
    exchange?.box.connection = nil
    exchange = nil
    if let timer { reactor.cancel(timer.id) }
    timer = nil
  }

  private func close() {
    detach()
    pool.forget(self)
    reactor.deregister(fd, token: token)
    Posix.close(fd)
  }
}
