import Foundation
import Synchronization

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The upstream transport on URLSession (FoundationNetworking): TLS, connection reuse, streaming.
///
/// One session per transport, with a delegate that turns URLSession's callbacks into a response head
/// and a streamed `UpstreamBody`. Deadlines: connecting and the head share the first-byte deadline
/// (URLSession does not tell when the connection is up, so `connectTimeout` is not enforced on its
/// own); the body has the idle deadline between chunks and the total deadline overall.
///
/// Slow readers: on Linux, `URLSessionTask.suspend()` removes the transfer from libcurl's multi handle
/// and `resume()` starts it again from the beginning (the request is sent a second time), so a body
/// cannot be paused. Instead the body keeps at most `bufferLimit` unread bytes; beyond that it ends
/// with `.tooLarge` and the task is cancelled.
public final class URLSessionTransport: UpstreamTransport, @unchecked Sendable {
  // URLSession and its delegate are thread-safe; the unchecked conformance covers the session reference.
  private let delegate: Delegate
  private let bufferLimit: Int
  /// Made at the first request: creating a session starts libcurl and its TLS library, about 4 MiB of
  /// resident pages that a gateway whose https backends are never called (or not yet) should not hold.
  private let sessionSlot = Mutex<URLSession?>(nil)

  /// Creates a transport with its own session; a body may hold up to `bufferLimit` unread bytes.
  public init(bufferLimit: Int = 8 << 20) {
    delegate = Delegate()
    self.bufferLimit = bufferLimit
  }

  /// True once a request has made the session (for tests of the deferral).
  var hasSession: Bool { sessionSlot.withLock { $0 != nil } }

  private var session: URLSession {
    sessionSlot.withLock { slot in
      if let session = slot { return session }
      let configuration = URLSessionConfiguration.ephemeral
      configuration.httpMaximumConnectionsPerHost = 512
      configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
      configuration.urlCache = nil
      configuration.httpCookieStorage = nil
      configuration.httpShouldSetCookies = false
      configuration.urlCredentialStorage = nil
      let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
      slot = session
      return session
    }
  }

  deinit { sessionSlot.withLock { $0?.invalidateAndCancel() } }

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    // Foundation hands header values to libcurl as they are: a CR or LF would end the header there.
    try request.checkedForWire()
    guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", url.host != nil
    else { throw .invalidRequest("not an absolute http(s) URL") }
    var urlRequest = URLRequest(url: url)
    urlRequest.httpMethod = request.method
    for header in request.headers { urlRequest.addValue(header.value, forHTTPHeaderField: header.name) }
    if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
    // URLSession's own timer counts whole seconds; it is only a backstop behind our deadlines.
    urlRequest.timeoutInterval = Double(request.totalTimeout.components.seconds + 2)
    let deadlines = UpstreamDeadlines(request, start: .now)
    let task = session.dataTask(with: urlRequest)
    let exchange = Exchange(
      task: task, origin: Origin(url), totalTimeout: request.totalTimeout, bufferLimit: bufferLimit)
    delegate.register(task.taskIdentifier, exchange)
    task.resume()
    // The deadlines live on the caller's reactor: one timer, moved along as the exchange goes.
    let reactor = Reactor.currentOrShared
    await reactor.perform { exchange.watch(deadlines, on: reactor) }
    switch await exchange.waitForHead() {
    case .success(let head):
      return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      exchange.body.finish(error)
      exchange.stopWatching()
      task.cancel()
      delegate.unregister(task.taskIdentifier)
      throw error
    }
  }

  /// Scheme, host and port: redirects are followed only when all three stay the same.
  struct Origin: Equatable {
    let scheme: String
    let host: String
    let port: Int?

    init(_ url: URL) {
      scheme = url.scheme?.lowercased() ?? ""
      host = url.host?.lowercased() ?? ""
      port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil)
    }
  }

  /// One data task's state: the head latch, the body and the deadline watch.
  final class Exchange: Sendable {
    let body: UpstreamBody
    let origin: Origin
    let totalTimeout: Duration
    private let head = HeadLatch()
    /// Set once the head arrived (URLSession tells no earlier stage).
    private let headArrived = Atomic<Bool>(false)
    /// The watch's pending timer, cancelled when the task completes so that no timer outlives it.
    private let watchTimer = Mutex<(reactor: Reactor, id: TimerHeap<() -> Void>.ID)?>(nil)

    init(task: URLSessionDataTask, origin: Origin, totalTimeout: Duration, bufferLimit: Int) {
      let box = TaskBox(task)
      self.origin = origin
      self.totalTimeout = totalTimeout
      body = UpstreamBody(pauseAbove: bufferLimit, failWhenFull: true, onCancel: { box.task.cancel() })
    }

    func resolveHead(_ value: Result<UpstreamResponseHead, UpstreamError>) {
      if case .success = value { headArrived.store(true, ordering: .releasing) }
      head.resolve(value)
    }

    func waitForHead() async -> Result<UpstreamResponseHead, UpstreamError> { await head.wait() }

    /// Checks `deadlines` on `reactor` (its loop thread) until the body ends: the first byte, then the
    /// idle gap and the total, with the same rule as our own client.
    func watch(_ deadlines: UpstreamDeadlines, on reactor: Reactor) {
      guard !body.isFinished else { return }
      let stage: UpstreamDeadlines.Stage
      if headArrived.load(ordering: .acquiring) {
        let activity = body.activity
        stage = .receiving(lastActivity: activity.last, paused: activity.paused)
      } else {
        stage = .awaitingHead
      }
      switch deadlines.check(stage, now: .now) {
      case .expired(let timeout):
        let error = UpstreamError.timedOut(phase: timeout)
        resolveHead(.failure(error))
        body.finish(error)
        body.onCancel?()
      case .checkAgain(let instant):
        let id = reactor.schedule(at: instant) { [self] in watch(deadlines, on: reactor) }
        watchTimer.withLock { $0 = (reactor, id) }
      }
    }

    /// The task completed: its deadlines no longer matter.
    func stopWatching() {
      guard let timer = watchTimer.withLock({ $0 }) else { return }
      timer.reactor.cancelFromAnyThread(timer.id)
    }
  }

  /// URLSessionTask is thread-safe but not marked Sendable on Linux.
  final class TaskBox: @unchecked Sendable {
    let task: URLSessionDataTask
    init(_ task: URLSessionDataTask) { self.task = task }
  }

  /// Routes URLSession callbacks to the exchange of each task.
  final class Delegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let exchanges = Mutex<[Int: Exchange]>([:])

    func register(_ id: Int, _ exchange: Exchange) { exchanges.withLock { $0[id] = exchange } }
    func unregister(_ id: Int) { _ = exchanges.withLock { $0.removeValue(forKey: id) } }
    private func exchange(_ id: Int) -> Exchange? { exchanges.withLock { $0[id] } }

    func urlSession(
      _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
      completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
      guard let http = response as? HTTPURLResponse else {
        exchange(dataTask.taskIdentifier)?.resolveHead(.failure(.invalidResponse("not an HTTP response")))
        completionHandler(.cancel)
        dataTask.cancel()
        return
      }
      var pairs: [(String, String)] = []
      for (name, value) in http.allHeaderFields {
        pairs.append((String(describing: name), String(describing: value)))
      }
      exchange(dataTask.taskIdentifier)?.resolveHead(
        .success(UpstreamResponseHead(status: http.statusCode, headers: UpstreamHeaders(pairs))))
      completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
      exchange(dataTask.taskIdentifier)?.body.push([UInt8](data))
    }

    // A redirect to another origin would carry the backend's credentials elsewhere: the 3xx answer is
    // handed to the gateway as it is. Within the same origin the redirect is followed.
    func urlSession(
      _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
      newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
      guard let exchange = exchange(task.taskIdentifier), let target = request.url, Origin(target) == exchange.origin
      else {
        completionHandler(nil)
        return
      }
      completionHandler(request)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
      guard let exchange = exchanges.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
      exchange.stopWatching()
      guard let error else {
        exchange.resolveHead(.failure(.invalidResponse("the connection closed before a response")))
        exchange.body.finish(nil)
        return
      }
      let mapped = Self.map(error, totalTimeout: exchange.totalTimeout)
      exchange.resolveHead(.failure(mapped))
      exchange.body.finish(mapped)
    }

    /// URLSession's errors in louter's terms.
    static func map(_ error: any Error, totalTimeout: Duration) -> UpstreamError {
      guard let urlError = error as? URLError else { return .connectionReset(String(describing: error)) }
      let detail = "\(urlError.localizedDescription) (URLError \(urlError.code.rawValue))"
      switch urlError.code {
      case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .secureConnectionFailed,
        .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
        .serverCertificateHasUnknownRoot, .clientCertificateRejected, .clientCertificateRequired,
        .cannotLoadFromNetwork, .unsupportedURL, .badURL:
        return .connectFailed(detail)
      case .timedOut: return .timedOut(phase: .total(totalTimeout))
      case .cancelled, .userCancelledAuthentication: return .cancelled
      case .badServerResponse, .cannotParseResponse, .cannotDecodeRawData, .cannotDecodeContentData,
        .httpTooManyRedirects, .redirectToNonExistentLocation, .zeroByteResource:
        return .invalidResponse(detail)
      case .dataLengthExceedsMaximum: return .tooLarge
      default: return .connectionReset(detail)
      }
    }
  }
}
