import Dispatch
import Foundation
import Glibc
import Synchronization

/// A server a test started and must shut down before it ends.
protocol TestServer {
  func stop()
}

/// Stops every server given (from a test's `defer`).
func stopAll(_ servers: any TestServer...) {
  for server in servers { server.stop() }
}

/// A scripted HTTP/1.1 backend on 127.0.0.1 (port 0, loopback only), written on raw Glibc sockets
/// rather than louter's own `HTTPServer`, so that a bug both ends would share cannot hide: every
/// accepted connection runs `script` on a thread of its own, which reads the request bytes itself and
/// writes the exact response bytes.
final class RawFakeBackend: TestServer, Sendable {
  struct State {
    var connections = 0
    var requests = 0
    /// Descriptors of connections whose script is still running, so that `stop` can wake them.
    var open: Set<Int32> = []
  }

  let port: Int
  private let listener: Int32
  private let state: Mutex<State>

  /// Connections accepted so far.
  var connectionCount: Int { state.withLock { $0.connections } }
  /// Requests read whole so far, over every connection.
  var requestCount: Int { state.withLock { $0.requests } }

  init(_ script: @escaping @Sendable (RawConnection) -> Void) throws {
    let (listener, port) = try UpstreamSockets.bindLoopback()
    guard Glibc.listen(listener, 64) == 0 else { throw UpstreamSockets.Failure(call: "listen") }
    self.listener = listener
    self.port = port
    self.state = Mutex(State())
    let thread = Thread { [self] in acceptLoop(script) }
    thread.start()
  }

  /// A keep-alive backend: answers each request, on any connection, with `answer(n)` where `n` counts
  /// the backend's requests from 1; an answer of nil resets the connection instead, before any byte of a
  /// response.
  static func answering(_ answer: @escaping @Sendable (Int) -> String?) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      while connection.readRequest() != nil {
        guard let text = answer(connection.requestNumber) else {
          connection.resetOnClose()
          return
        }
        guard connection.write(text) else { return }
      }
    }
  }

  private func acceptLoop(_ script: @escaping @Sendable (RawConnection) -> Void) {
    while true {
      let client = accept(listener, nil, nil)
      if client < 0 {
        if errno == EINTR { continue }
        return
      }
      let index = state.withLock { state -> Int in
        state.connections += 1
        state.open.insert(client)
        return state.connections
      }
      let connection = RawConnection(fd: client, index: index, backend: self)
      Thread {
        script(connection)
        self.close(connection)
      }.start()
    }
  }

  /// Counts one request and returns its number.
  fileprivate func countRequest() -> Int {
    state.withLock { state in
      state.requests += 1
      return state.requests
    }
  }

  private func close(_ connection: RawConnection) {
    // Closed under the lock: `stop` must never shut down a descriptor number already reused.
    state.withLock { state in
      state.open.remove(connection.fd)
      Glibc.close(connection.fd)
    }
  }

  /// Stops accepting (shutting the listener down wakes the blocked accept) and shuts every open
  /// connection down, which wakes scripts blocked reading a kept-alive connection.
  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
    state.withLock { state in
      for fd in state.open { shutdown(fd, Int32(SHUT_RDWR)) }
    }
  }

  deinit { Glibc.close(listener) }
}

/// One accepted connection, driven by a server script on its own thread.
final class RawConnection: @unchecked Sendable {
  // Only the script's thread touches `pending` and the descriptor.
  let fd: Int32
  /// 1 for the server's first connection, 2 for the second...
  let index: Int
  /// The backend-wide number of the request `readRequest` read last (0 before the first).
  private(set) var requestNumber = 0
  private let backend: RawFakeBackend
  private var pending: [UInt8] = []

  init(fd: Int32, index: Int, backend: RawFakeBackend) {
    self.fd = fd
    self.index = index
    self.backend = backend
  }

  /// Reads one request (head and content-length body); nil when the peer closes first.
  @discardableResult
  func readRequest() -> String? {
    let marker = Array("\r\n\r\n".utf8)
    while true {
      if let end = Self.find(marker, in: pending) {
        let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
          length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let total = end + marker.count + length
        while pending.count < total {
          guard readMore() else { return nil }
        }
        let request = String(decoding: pending[..<total], as: UTF8.self)
        pending.removeFirst(total)
        requestNumber = backend.countRequest()
        return request
      }
      guard readMore() else { return nil }
    }
  }

  /// Writes all of `text`; false once the peer is gone.
  @discardableResult
  func write(_ text: String) -> Bool { write(Array(text.utf8)) }

  @discardableResult
  func write(_ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { buffer in
        send(fd, buffer.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if written < 0, errno == EINTR { continue }
      if written <= 0 { return false }
      offset += written
    }
    return true
  }

  /// Blocks until the peer closes the connection (EOF or reset); false if it stays silent and open
  /// for 20 s, a bound that only keeps a failed test from leaving the thread behind.
  @discardableResult
  func waitForClose() -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, 20_000)
      if ready < 0 {
        if errno == EINTR { continue }
        return true
      }
      if ready == 0 { return false }
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count == 0 || (count < 0 && errno != EINTR) { return true }
    }
  }

  /// Makes the coming close a reset (RST) rather than an orderly end (FIN).
  func resetOnClose() {
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
  }

  private func readMore() -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return false }
      pending += buffer[..<count]
      return true
    }
  }

  private static func find(_ marker: [UInt8], in bytes: [UInt8]) -> Int? {
    guard bytes.count >= marker.count else { return nil }
    for start in 0...(bytes.count - marker.count) where bytes[start..<(start + marker.count)].elementsEqual(marker) {
      return start
    }
    return nil
  }
}

/// Loopback socket helpers for the upstream tests.
enum UpstreamSockets {
  struct Failure: Error {
    let call: String
  }

  /// A TCP socket bound to 127.0.0.1 on a port the kernel picks (not listening yet).
  static func bindLoopback() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw Failure(call: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
      Glibc.close(fd)
      throw Failure(call: "bind")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else {
      Glibc.close(fd)
      throw Failure(call: "getsockname")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  /// One chunk of a chunked body.
  static func chunk(_ text: String) -> String { String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n" }
}

/// Exact response bytes for raw fake backends.
enum RawHTTP {
  /// A whole response with a `Content-Length` body.
  static func response(_ status: Int, _ body: String, headers: [String] = ["Content-Type: application/json"]) -> String
  {
    let head = (["HTTP/1.1 \(status) \(reason(status))"] + headers + ["Content-Length: \(body.utf8.count)"])
    return head.joined(separator: "\r\n") + "\r\n\r\n" + body
  }

  /// The head of a chunked event stream.
  static let streamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

  /// One chunk of a chunked body.
  static func chunk(_ text: String) -> String { UpstreamSockets.chunk(text) }

  /// The chunk that ends a chunked body.
  static let lastChunk = "0\r\n\r\n"

  static func reason(_ status: Int) -> String {
    switch status {
    case 200: "OK"
    case 400: "Bad Request"
    case 429: "Too Many Requests"
    case 500: "Internal Server Error"
    case 503: "Service Unavailable"
    default: "Status"
    }
  }
}

/// The test tells a server thread to go on: `open()` from the test, `wait()` on the server's thread.
final class UpstreamGate: Sendable {
  private let semaphore = DispatchSemaphore(value: 0)
  private let finished = Atomic<Bool>(false)
  /// Lets one `wait` through.
  func open() { semaphore.signal() }
  /// Makes every `wait` from now on return false: the script should stop what it was pacing.
  func finish() {
    finished.store(true, ordering: .releasing)
    semaphore.signal()
  }
  /// Blocks the server thread until `open` (true) or `finish` (false); gives up after 20 s (false) so
  /// that a failed test never leaves it behind for good.
  @discardableResult
  func wait() -> Bool {
    if finished.load(ordering: .acquiring) { return false }
    let opened = semaphore.wait(timeout: .now() + 20) == .success
    return opened && !finished.load(ordering: .acquiring)
  }
}

/// A server thread tells the test something happened: `fire()` on the thread, `await wait()` in the test.
final class UpstreamEvent: Sendable {
  private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

  func fire() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.fired = true
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  func wait() async {
    await withCheckedContinuation { continuation in
      let fired = state.withLock { state -> Bool in
        if !state.fired { state.waiters.append(continuation) }
        return state.fired
      }
      if fired { continuation.resume() }
    }
  }
}
